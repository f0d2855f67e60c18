/* A channel whose close forgets what its waiting receivers wait for (BROKEN): to wake the
 * receivers blocked on an empty channel, close puts a zero into the buffer; a receiver that
 * was waiting takes it as a value (0, ok = true) instead of seeing the close (0, ok = false).
 * Receivers that come after the close are right, so only an interleaving shows the bug.
 *   stressmm fuzz --go --impl examples/impls/chan_close_wakeup.c --minutes 2   # exit 1 */
#define CLOSE_FAKES_A_VALUE 1
#define RING_NAME "chan-close-wakeup"
#include "ring_channel.c"

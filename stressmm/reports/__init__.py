"""Results for people and CI: the versioned JSON document (`results`), the HTML report
(`html`), JUnit XML (`junit`), progress on long work (`progress`), and the output files
(`output`: checked before the work starts, written when the results are complete)."""

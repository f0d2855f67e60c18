/* A library without stressmm_impl_v1: refused at load. */
int stressmm_impl_v0(void)
{
    return 0;
}

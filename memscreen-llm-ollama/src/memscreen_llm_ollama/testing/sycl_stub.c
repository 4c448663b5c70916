/*
 * Stand-in for the Intel GPU (SYCL) ggml backend shipped in bigdl-core-cpp.
 *
 * The shipped libggml-sycl.so aborts when no Intel GPU is present. ollama-lib
 * only calls the three functions below; reporting zero devices makes it fall
 * back to the ggml CPU backends. Built with gcc at provisioning time.
 */
#include <stddef.h>

int ggml_backend_sycl_get_device_count(void) { return 0; }

void *ggml_backend_sycl_init(int device) {
    (void)device;
    return NULL;
}

void *ggml_backend_sycl_buffer_type(int device) {
    (void)device;
    return NULL;
}

#ifndef MIRO_JPEG_DECODE_H
#define MIRO_JPEG_DECODE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A decoded JPEG as libjpeg returns it to Pillow: `components` = 1 (grayscale), 3 (RGB) or 4 (CMYK, as stored:
/// Adobe files are inverted), `width × height × components` bytes, row-major.
typedef struct {
    int width;
    int height;
    int components;
    unsigned char *pixels;
} mj_jpeg_image;

/// Decodes `data` with libjpeg's defaults (JDCT_ISLOW, fancy upsampling, block smoothing), the output colour space
/// chosen from the component count as Pillow's JpegDecode does. Returns 0 on success (free with mj_jpeg_free);
/// otherwise nonzero, with libjpeg's message (or ours) in `message`: 1 = libjpeg error, 2 = unsupported component
/// count, 3 = more than `max_pixels` pixels, 4 = out of memory, 5 = the data ends before the image does.
/// libjpeg's fatal errors return here through setjmp/longjmp, never exit().
int mj_jpeg_decode(const unsigned char *data, size_t size, long long max_pixels, mj_jpeg_image *out,
                   char *message, size_t message_length);

void mj_jpeg_free(mj_jpeg_image *image);

#ifdef __cplusplus
}
#endif

#endif

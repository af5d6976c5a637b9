// JPEG decoding through libjpeg-turbo with libjpeg's fatal errors caught: its default error_exit calls exit(),
// so this file installs one that longjmps back to mj_jpeg_decode (setjmp cannot be used from Swift). The settings
// are Pillow's (src/decode.c + libImaging/JpegDecode.c, Pillow 9.4): libjpeg's defaults, out_color_space from the
// component count (L, RGB, CMYK), no scaling, no draft mode.
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "jpeg_decode.h"

struct mj_error_manager {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int hit_end_of_data;
};

static void mj_error_exit(j_common_ptr cinfo) {
    struct mj_error_manager *manager = (struct mj_error_manager *)cinfo->err;
    longjmp(manager->jump, 1);
}

// Warnings are not printed; running out of data is remembered (jpeg_mem_src then feeds a fake EOI and libjpeg
// fills the rest of the image with grey, which Pillow reports as a truncated file).
static void mj_emit_message(j_common_ptr cinfo, int level) {
    struct mj_error_manager *manager = (struct mj_error_manager *)cinfo->err;
    if (level < 0) {
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) manager->hit_end_of_data = 1;
        cinfo->err->num_warnings++;
    }
}

static void mj_output_message(j_common_ptr cinfo) { (void)cinfo; }

int mj_jpeg_decode(const unsigned char *data, size_t size, long long max_pixels, mj_jpeg_image *out,
                   char *message, size_t message_length) {
    struct jpeg_decompress_struct cinfo;
    struct mj_error_manager manager;
    unsigned char *volatile pixels = NULL;
    memset(out, 0, sizeof(*out));
    if (message_length > 0) message[0] = 0;

    cinfo.err = jpeg_std_error(&manager.pub);
    manager.pub.error_exit = mj_error_exit;
    manager.pub.emit_message = mj_emit_message;
    manager.pub.output_message = mj_output_message;
    manager.hit_end_of_data = 0;
    if (setjmp(manager.jump)) {
        char text[JMSG_LENGTH_MAX];
        (*cinfo.err->format_message)((j_common_ptr)&cinfo, text);
        snprintf(message, message_length, "%s", text);
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    switch (cinfo.num_components) {
        case 1: cinfo.out_color_space = JCS_GRAYSCALE; break;
        case 3: cinfo.out_color_space = JCS_RGB; break;
        case 4: cinfo.out_color_space = JCS_CMYK; break;
        default:
            snprintf(message, message_length, "%d colour components (only 1, 3 and 4 are images Pillow opens)",
                     cinfo.num_components);
            jpeg_destroy_decompress(&cinfo);
            return 2;
    }
    if ((long long)cinfo.image_width * (long long)cinfo.image_height > max_pixels) {
        snprintf(message, message_length, "%u×%u pixels is more than the limit of %lld", cinfo.image_width,
                 cinfo.image_height, max_pixels);
        jpeg_destroy_decompress(&cinfo);
        return 3;
    }
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    pixels = malloc(stride * (size_t)cinfo.output_height + 1);
    if (!pixels) {
        snprintf(message, message_length, "out of memory for %u×%u pixels", cinfo.output_width, cinfo.output_height);
        jpeg_destroy_decompress(&cinfo);
        return 4;
    }
    while (cinfo.output_scanline < cinfo.output_height && !manager.hit_end_of_data) {
        JSAMPROW row = pixels + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    if (manager.hit_end_of_data) {
        snprintf(message, message_length, "the data ends before the image does (truncated file)");
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return 5;
    }
    jpeg_finish_decompress(&cinfo);
    out->width = (int)cinfo.output_width;
    out->height = (int)cinfo.output_height;
    out->components = cinfo.output_components;
    out->pixels = pixels;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

void mj_jpeg_free(mj_jpeg_image *image) {
    free(image->pixels);
    image->pixels = NULL;
}

/* nvdp_codec.c: placeholder, being written */

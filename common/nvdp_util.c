/* nvdp_util.c: placeholder, being written */

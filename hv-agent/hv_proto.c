/* hv_proto.c: placeholder, being written */

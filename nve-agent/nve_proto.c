/* nve_proto.c: placeholder, being written */

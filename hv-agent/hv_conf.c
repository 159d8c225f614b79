/* hv_conf.c: placeholder, being written */

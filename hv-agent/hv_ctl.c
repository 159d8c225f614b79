/* hv_ctl.c: placeholder, being written */

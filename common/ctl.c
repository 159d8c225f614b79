/* ctl.c: placeholder, being written */

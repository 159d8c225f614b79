/* nve_ctl.c: placeholder, being written */

/* nve_conf.c: placeholder, being written */

/* conf_util.c: placeholder, being written */

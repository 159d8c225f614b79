/* fwd.c: placeholder, being written */

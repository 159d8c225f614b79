/* l2sock.c: placeholder, being written */

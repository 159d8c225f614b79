/* nvdpctl.c - main() of the CLI: global options, choosing the daemon's
 * socket, one request/answer (or an event stream), output and exit code. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "nvdpctl.h"

#define DEFAULT_TIMEOUT_MS 10000

struct nvdpctl {
    const char *socket; /* -s, else env, else by command */
    int json;           /* -f json */
    int timeout_ms;     /* -t; 0 = no limit */
    int timeout_given;
    const struct nvdpctl_cmd *cmd;
    struct nvdpctl_call call;
};

static const char *
daemon_name(const struct nvdpctl_cmd *cmd, const char *path)
{
    if (cmd->daemon == NVDPCTL_D_HV)
        return "hv-agent";
    if (cmd->daemon == NVDPCTL_D_NVE)
        return "nve-agent";
    return strstr(path, "nve") ? "nve-agent" : "hv-agent";
}

static const char *
socket_path(const struct nvdpctl *n)
{
    const char *env = getenv("NVDPCTL_SOCKET");
    static const char hv[] = PATHS_HV_SOCKET;
    static const char nve[] = PATHS_NVE_SOCKET;

    if (n->socket)
        return n->socket;
    if (env && *env)
        return env;
    switch (n->cmd->daemon) {
    case NVDPCTL_D_HV:
        return hv;
    case NVDPCTL_D_NVE:
        return nve;
    default:
        /* status/peers: a host normally runs one of the two daemons. */
        return access(hv, F_OK) == 0 || access(nve, F_OK) != 0 ? hv : nve;
    }
}

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
print_json(FILE *out, struct json_object *o, int pretty)
{
    int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
                (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                        : JSON_C_TO_STRING_PLAIN);

    fprintf(out, "%s\n", o ? json_object_to_json_string_ext(o, flags) : "null");
}

/* The daemon's error: stderr for people; with -f json the whole answer on
 * stdout too, so a script reads the code and reason with jq. */
static int
report_error(const struct nvdpctl *n, struct json_object *resp)
{
    struct json_object *v;
    int code = NVDPCTL_EX_FAILED;
    const char *msg = "failed (no reason given)";

    if (json_object_object_get_ex(resp, "code", &v))
        code = json_object_get_int(v);
    if (json_object_object_get_ex(resp, "error", &v) &&
        json_object_is_type(v, json_type_string))
        msg = json_object_get_string(v);
    fprintf(stderr, "nvdpctl: %s: %s\n", n->cmd->words, msg);
    if (n->json)
        print_json(stdout, resp, 1);
    return nvdpctl_exit_for_code(code);
}

static int
output(const struct nvdpctl *n, struct json_object *resp)
{
    struct json_object *ok, *result = NULL;

    if (!json_object_is_type(resp, json_type_object) ||
        !json_object_object_get_ex(resp, "ok", &ok)) {
        fprintf(stderr, "nvdpctl: %s: malformed answer from the daemon\n",
                n->cmd->words);
        return NVDPCTL_EX_FAILED;
    }
    if (!json_object_get_boolean(ok))
        return report_error(n, resp);
    json_object_object_get_ex(resp, "result", &result);
    if (n->call.stream)
        return NVDPCTL_EX_OK; /* watch: the ack carries nothing to show */
    if (result)
        nvdpctl_post(n->cmd->ctl, result);
    if (n->json)
        print_json(stdout, result, 1);
    else
        n->cmd->fmt(stdout, result);
    return NVDPCTL_EX_OK;
}

/* watch: events until --count, the daemon closing, or an explicit -t. */
static int
stream(const struct nvdpctl *n, int fd)
{
    uint64_t deadline = n->timeout_given && n->timeout_ms
                            ? now_ms() + (uint64_t)n->timeout_ms
                            : 0;
    long seen = 0;

    /* On stderr, so a script knows no event can be missed from now on. */
    fprintf(stderr, "nvdpctl: watching %s\n", n->cmd->words);
    fflush(stderr);
    for (;;) {
        struct json_object *ev = NULL;
        int left = -1;
        if (deadline) {
            uint64_t t = now_ms();
            left = t >= deadline ? 0 : (int)(deadline - t);
        }
        if (ctl_client_recv(fd, &ev, left) < 0) {
            if (errno == ETIMEDOUT) {
                if (n->call.count)
                    fprintf(stderr, "nvdpctl: watch: %ld of %ld events "
                                    "before the timeout\n",
                            seen, n->call.count);
                return n->call.count ? NVDPCTL_EX_TIMEOUT : NVDPCTL_EX_OK;
            }
            /* The daemon closed the stream (stopped or restarted). */
            fprintf(stderr, "nvdpctl: watch: connection closed\n");
            return NVDPCTL_EX_UNREACHABLE;
        }
        if (n->json)
            print_json(stdout, ev, 0);
        else
            n->cmd->fmt(stdout, ev);
        fflush(stdout);
        json_object_put(ev);
        if (n->call.count && ++seen >= n->call.count)
            return NVDPCTL_EX_OK;
    }
}

static int
run(struct nvdpctl *n, struct json_object *req)
{
    const char *path = socket_path(n);
    struct json_object *resp = NULL;
    int fd, rc, timeout = -1;

    fd = ctl_client_connect(path);
    if (fd < 0) {
        fprintf(stderr, "nvdpctl: cannot connect to %s at %s: %s\n",
                daemon_name(n->cmd, path), path, strerror(errno));
        return NVDPCTL_EX_UNREACHABLE;
    }
    /* A --wait lets the daemon hold the answer; give it that long too. */
    if (n->timeout_ms > 0)
        timeout = n->timeout_ms + n->call.wait_ms;
    if (ctl_client_call(fd, req, &resp, timeout) < 0) {
        int e = errno;
        close(fd);
        if (e == ETIMEDOUT) {
            fprintf(stderr, "nvdpctl: %s: no answer from %s within %d ms\n",
                    n->cmd->words, daemon_name(n->cmd, path), timeout);
            return NVDPCTL_EX_TIMEOUT;
        }
        fprintf(stderr, "nvdpctl: %s: %s: %s\n", n->cmd->words,
                daemon_name(n->cmd, path), strerror(e));
        return e == EPROTO || e == EMSGSIZE ? NVDPCTL_EX_FAILED
                                            : NVDPCTL_EX_UNREACHABLE;
    }
    rc = output(n, resp);
    json_object_put(resp);
    if (rc == NVDPCTL_EX_OK && n->call.stream)
        rc = stream(n, fd);
    close(fd);
    return rc;
}

static int
has_help(int argc, char **argv)
{
    int i;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

/* "nvdpctl vnic" alone, or "nvdpctl help vnic": the commands it starts. */
static int
prefix_help(FILE *out, const char *word)
{
    const struct nvdpctl_cmd *c;
    int found = 0;
    size_t len = strlen(word);

    for (c = nvdpctl_cmds; c->words; c++)
        if (strncmp(c->words, word, len) == 0 &&
            (c->words[len] == ' ' || c->words[len] == '\0')) {
            nvdpctl_cmd_usage(out, c);
            found = 1;
        }
    return found;
}

static int
help(int argc, char **argv)
{
    const struct nvdpctl_cmd *c;
    int nw;

    if (argc == 0) {
        nvdpctl_usage(stdout);
        return NVDPCTL_EX_OK;
    }
    c = nvdpctl_lookup(argc, argv, &nw);
    if (c) {
        nvdpctl_cmd_usage(stdout, c);
        return NVDPCTL_EX_OK;
    }
    if (prefix_help(stdout, argv[0]))
        return NVDPCTL_EX_OK;
    fprintf(stderr, "nvdpctl: unknown command '%s'\n", argv[0]);
    return NVDPCTL_EX_USAGE;
}

static int
global_opts(struct nvdpctl *n, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int ch, ms;

    while ((ch = getopt_long(argc, argv, "+s:f:t:hV", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            n->socket = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0)
                n->json = 1;
            else if (strcmp(optarg, "text") == 0)
                n->json = 0;
            else {
                fprintf(stderr, "nvdpctl: -f: text or json, not '%s'\n",
                        optarg);
                return -1;
            }
            break;
        case 't':
            if (nvdpctl_parse_seconds(optarg, &ms) < 0) {
                fprintf(stderr, "nvdpctl: -t: '%s' is not a number of "
                                "seconds\n", optarg);
                return -1;
            }
            n->timeout_ms = ms;
            n->timeout_given = 1;
            break;
        case 'h':
            nvdpctl_usage(stdout);
            exit(NVDPCTL_EX_OK);
        case 'V':
            printf("nvdpctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
            exit(NVDPCTL_EX_OK);
        default:
            nvdpctl_usage(stderr);
            return -1;
        }
    }
    return optind;
}

int
main(int argc, char **argv)
{
    struct nvdpctl n = {.timeout_ms = DEFAULT_TIMEOUT_MS};
    struct json_object *req;
    char err[256];
    int first, nw, rc;

    signal(SIGPIPE, SIG_IGN);
    first = global_opts(&n, argc, argv);
    if (first < 0)
        return NVDPCTL_EX_USAGE;
    argc -= first;
    argv += first;
    if (argc == 0) {
        nvdpctl_usage(stderr);
        return NVDPCTL_EX_USAGE;
    }
    if (strcmp(argv[0], "help") == 0)
        return help(argc - 1, argv + 1);
    n.cmd = nvdpctl_lookup(argc, argv, &nw);
    if (!n.cmd) {
        if (prefix_help(stderr, argv[0]))
            fprintf(stderr, "nvdpctl: incomplete or unknown command\n");
        else
            fprintf(stderr, "nvdpctl: unknown command '%s' (nvdpctl help)\n",
                    argv[0]);
        return NVDPCTL_EX_USAGE;
    }
    if (has_help(argc - nw, argv + nw)) {
        nvdpctl_cmd_usage(stdout, n.cmd);
        return NVDPCTL_EX_OK;
    }
    req = nvdpctl_request(n.cmd, argc - nw, argv + nw, &n.call, err,
                          sizeof(err));
    if (!req) {
        fprintf(stderr, "nvdpctl: %s\n", err);
        nvdpctl_cmd_usage(stderr, n.cmd);
        return NVDPCTL_EX_USAGE;
    }
    rc = run(&n, req);
    json_object_put(req);
    return rc;
}

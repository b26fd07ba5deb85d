/* wgtrain serve's lifecycle: bind (a port in use is a clear error and exit 1), load MNIST,
 * open the GPU on the worker thread, start libmicrohttpd on the bound socket, print
 * "listening on http://HOST:PORT" as the first line of stdout, then serve until SIGINT or
 * SIGTERM and shut down in order: stop training, end the event streams, stop the daemon,
 * join the worker. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/args.h"
#include "server/srv_server.h"

/* Binds and listens; returns the socket or -1 after printing why. */
static int bind_listen(const char *host, uint16_t port, bool *ipv6, uint16_t *bound_port) {
    char service[16];
    snprintf(service, sizeof service, "%u", port);
    char name[256];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') snprintf(name, sizeof name, "%.*s", (int)(n - 2), host + 1);
    else snprintf(name, sizeof name, "%s", host);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(name, service, &hints, &res);
    if (rc) {
        runtime_error("serve: cannot resolve --host '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* restart over TIME_WAIT, not over a listener */
        if (a->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 128) == 0) {
            *ipv6 = a->ai_family == AF_INET6;
            break;
        }
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (err == EADDRINUSE)
            runtime_error("serve: port %u on %s is already in use (another wgtrain serve?): stop it or choose "
                          "another with --port",
                          port, host);
        else if (err == EACCES)
            runtime_error("serve: no permission to listen on port %u (ports below 1024 need privileges): use --port",
                          port);
        else if (err == EADDRNOTAVAIL)
            runtime_error("serve: %s is not an address of this machine", host);
        else
            runtime_error("serve: cannot listen on %s port %u: %s", host, port, strerror(err));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void request_shutdown(srv_state *s) {
    pthread_mutex_lock(&s->mu);
    s->shutdown = true;
    s->stop_requested = true;
    pthread_cond_broadcast(&s->work_cond);
    pthread_cond_broadcast(&s->predict_cond);
    srv_hub_wake_all(&s->hub);
    pthread_mutex_unlock(&s->mu);
}

int srv_run(const srv_options *o) {
    bool ipv6 = false;
    uint16_t port = o->port;
    int fd = bind_listen(o->host, o->port, &ipv6, &port);
    if (fd < 0) return 1;

    mnist_set train = {0}, test = {0};
    const char *dir = o->data_dir ? o->data_dir : host_default_data_dir();
    if (!host_load_data(dir, &train, &test)) {
        close(fd);
        return 1;
    }
    if (train.count == 0) {
        char path[4200];
        host_mnist_images_path(dir, MNIST_TRAIN, path, sizeof path);
        runtime_error("serve: %s: holds 0 training images: there is nothing to train on", path);
        mnist_free(&train);
        mnist_free(&test);
        close(fd);
        return 1;
    }
    if (o->train_limit && o->train_limit < train.count) train.count = o->train_limit;

    /* SIGINT/SIGTERM are taken by sigwait below: every thread made from here on blocks them */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    static srv_state s; /* one server per process */
    int rc = 1;
    if (srv_state_init(&s)) {
        runtime_error("serve: cannot initialise threads");
        goto out_data;
    }
    s.train = &train;
    s.test = &test;
    s.shape = (api_shape){train.rows, train.cols, train.classes};
    if (!(s.confusion = calloc((size_t)train.classes * train.classes, sizeof *s.confusion))) {
        runtime_error("serve: out of memory");
        goto out_data;
    }
    s.limits.batch_max = train.count < MLP_MAX_BATCH ? train.count : MLP_MAX_BATCH;
    s.limits.hidden_max = MLP_MAX_HIDDEN;
    s.limits.test_count = test.count;
    s.limits.rows = train.rows;
    s.limits.cols = train.cols;
    s.report_every = o->report_every;
    s.kernels = o->kernels;
    s.keepalive_s = o->connection_timeout_s / 2 < SRV_KEEPALIVE_S ? o->connection_timeout_s / 2 : SRV_KEEPALIVE_S;
    if (s.keepalive_s < 1) s.keepalive_s = 1;
    s.gpu_opts = o->gpu;
    s.dev_opts = o->dev;
    srv_host_rules_init(&s.host, o->host, port);
    s.test_pred = calloc(test.count, 1);
    s.test_conf = calloc(test.count, sizeof(float));
    if (!s.test_pred || !s.test_conf) {
        runtime_error("serve: out of memory");
        goto out_state;
    }

    char why[PATH_MAX + 256];
    s.history_worker = runs_open_options(&o->runs, true, why, sizeof why);
    if (s.history_worker) s.history_http = runs_open_options(&o->runs, true, why, sizeof why);
    if (!o->runs.off && !s.history_http) {
        runtime_error("serve: %s (or serve with --no-history)", why);
        goto out_state;
    }
    pthread_mutex_init(&s.history_mu, NULL);

    pthread_t worker;
    if (pthread_create(&worker, NULL, srv_worker_main, &s)) {
        runtime_error("serve: cannot start the training thread");
        goto out_state;
    }
    pthread_mutex_lock(&s.mu);
    while (s.gpu_ready == 0) pthread_cond_wait(&s.predict_cond, &s.mu);
    bool gpu_ok = s.gpu_ready > 0;
    pthread_mutex_unlock(&s.mu);
    struct MHD_Daemon *d = gpu_ok ? srv_http_start(&s, fd, ipv6, o) : NULL;
    if (gpu_ok && !d) runtime_error("serve: libmicrohttpd could not start on %s port %u", o->host, port);
    if (d) {
        fd = -1; /* the gate (srv_gate.h) owns and closes it */
        char auth[300];
        srv_host_authority(&s.host, auth, sizeof auth);
        printf("listening on http://%s\n", auth);
        char device_text[320];
        if (s.engine == HOST_ENGINE_CPU) snprintf(device_text, sizeof device_text, "%s", s.device.name);
        else snprintf(device_text, sizeof device_text, "%s (%s, %s)", s.device.name, gpu_backend_name(s.device.backend),
                      gpu_adapter_type_name(s.device.type));
        printf("wgtrain serve: %s, %u train / %u test images; open http://%s in a browser, Ctrl-C stops\n", device_text,
               train.count, test.count, auth);
        fflush(stdout);
        int sig = 0;
        sigwait(&sigs, &sig);
        printf("wgtrain serve: %s, shutting down\n", sig == SIGINT ? "interrupted" : "terminated");
        fflush(stdout);
        rc = 0;
    }
    request_shutdown(&s);
    srv_http_stop(d);
    pthread_join(worker, NULL);
out_state:
    runs_close(s.history_worker);
    runs_close(s.history_http);
    srv_state_destroy(&s);
out_data:
    if (fd >= 0) close(fd);
    mnist_free(&train);
    mnist_free(&test);
    return rc;
}

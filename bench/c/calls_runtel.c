/* N small get calls through libruntel; prints one JSON line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "runtel.h"

static double cpu_s(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3)
        return 2;
    long n = atol(argv[2]);
    runtel_client *c = NULL;
    if (runtel_client_new(argv[1], &c, NULL) != RUNTEL_OK ||
        runtel_client_login(c, "admin@sim.runtel.local", "admin", NULL) != RUNTEL_OK)
        return 1;
    char *json = NULL;
    for (int i = 0; i < 200; i++) {
        if (runtel_client_call(c, "User", "get", "{\"id\": 1}", &json, NULL) != RUNTEL_OK)
            return 1;
        runtel_string_free(json);
    }
    double c0 = cpu_s(), t0 = now_s();
    for (long i = 0; i < n; i++) {
        if (runtel_client_call(c, "User", "get", "{\"id\": 1}", &json, NULL) != RUNTEL_OK || !strstr(json, "\"code\":200"))
            return 1;
        runtel_string_free(json);
    }
    double wall = now_s() - t0, cpu = cpu_s() - c0;
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    printf("{\"bench\": \"c-calls\", \"n\": %ld, \"wall_s\": %f, \"cpu_s\": %f, \"per_s\": %f, \"cpu_us_per_op\": %f, "
           "\"peak_rss_mib\": %f}\n",
           n, wall, cpu, n / wall, cpu * 1e6 / n, u.ru_maxrss / 1024.0);
    runtel_client_free(c);
    return 0;
}

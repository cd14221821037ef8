/* The hand-written libcurl baseline: the same POSTs, keep-alive, the same checks
   (HTTP 200, "code":200, action_id echo). Prints one JSON line. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct buf {
    char *data;
    size_t len, cap;
};

static size_t collect(char *p, size_t size, size_t nmemb, void *userdata) {
    struct buf *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = realloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

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

static int post(CURL *h, struct curl_slist *headers, const char *body, struct buf *out) {
    out->len = 0;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(h) != CURLE_OK)
        return -1;
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status == 200 && strstr(out->data, "\"code\":200") ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 3)
        return 2;
    long n = atol(argv[2]);
    char url[256];
    snprintf(url, sizeof url, "%s/api/", argv[1]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *h = curl_easy_init();
    struct buf out = {malloc(4096), 0, 4096};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    struct curl_slist *json = curl_slist_append(NULL, "Content-Type: application/json");
    if (post(h, json, "{\"action\":\"auth\",\"obj\":\"User\",\"action_id\":\"a\",\"params\":{\"login\":\"admin@sim.runtel.local\",\"password\":\"admin\"}}", &out) != 0)
        return 1;
    char *tok = strstr(out.data, "\"token\":\"");
    if (!tok)
        return 1;
    tok += 9;
    char auth[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %.*s", (int)(strchr(tok, '"') - tok), tok);
    struct curl_slist *headers = curl_slist_append(curl_slist_append(NULL, "Content-Type: application/json"), auth);
    char body[256], want[64];
    double c0 = 0, t0 = 0;
    for (long i = -200; i < n; i++) {
        if (i == 0) {
            c0 = cpu_s();
            t0 = now_s();
        }
        snprintf(body, sizeof body, "{\"action\":\"get\",\"obj\":\"User\",\"action_id\":\"c-%ld\",\"params\":{\"id\":1}}", i);
        snprintf(want, sizeof want, "\"action_id\":\"c-%ld\"", i);
        if (post(h, headers, body, &out) != 0 || !strstr(out.data, want))
            return 1;
    }
    double wall = now_s() - t0, cpu = cpu_s() - c0;
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    printf("{\"bench\": \"curl-calls\", \"n\": %ld, \"wall_s\": %f, \"cpu_s\": %f, \"per_s\": %f, \"cpu_us_per_op\": %f, "
           "\"peak_rss_mib\": %f}\n",
           n, wall, cpu, n / wall, cpu * 1e6 / n, u.ru_maxrss / 1024.0);
    curl_slist_free_all(headers);
    curl_slist_free_all(json);
    curl_easy_cleanup(h);
    free(out.data);
    return 0;
}

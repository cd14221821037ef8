/*
 * quickstart.c: log in, list users, page through CDRs, handle errors, clean up.
 *
 *   ./quickstart URL LOGIN          (the password is read from RUNTEL_PASSWORD)
 *
 * Against the simulator:  runtel-sim --listen 127.0.0.1:8080 --seed DomainCDR=5000
 *   RUNTEL_PASSWORD=admin ./quickstart http://127.0.0.1:8080 admin@sim.runtel.local
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtel.h"

/* Prints a failure the way a user wants to see it, then frees it. */
static void report(const char *what, runtel_result rc, runtel_error *err) {
    fprintf(stderr, "%s failed: %s (http %d, code %d, msg_id %s): %s\n", what, runtel_result_name(rc),
            runtel_error_http_status(err), runtel_error_api_code(err),
            runtel_error_msg_id(err) ? runtel_error_msg_id(err) : "-", runtel_error_message(err));
    runtel_error_free(err);
}

int main(int argc, char **argv) {
    const char *password = getenv("RUNTEL_PASSWORD");
    if (argc != 3 || password == NULL) {
        fprintf(stderr, "usage: RUNTEL_PASSWORD=... %s URL LOGIN\n", argv[0]);
        return 2;
    }
    int status = 1;
    runtel_options *opts = NULL;
    runtel_client *client = NULL;
    runtel_records *cdrs = NULL;
    runtel_error *err = NULL;
    char *json = NULL;
    runtel_result rc;

    /* Options are copied into the client: free them right away. */
    if ((rc = runtel_options_new(&opts, &err)) != RUNTEL_OK ||
        (rc = runtel_options_set_timeout_ms(opts, 15000, &err)) != RUNTEL_OK ||
        (rc = runtel_options_set_credentials(opts, argv[2], password, &err)) != RUNTEL_OK ||
        (rc = runtel_client_new_with_options(argv[1], opts, &client, &err)) != RUNTEL_OK) {
        report("setup", rc, err);
        goto done;
    }
    runtel_options_free(opts);
    opts = NULL;

    /* The first call logs in with the stored credentials. */
    if ((rc = runtel_client_call(client, "User", "list", "{}", &json, &err)) != RUNTEL_OK) {
        report("User.list", rc, err);
        goto done;
    }
    printf("users: %.200s%s\n", json, strlen(json) > 200 ? "..." : "");
    runtel_string_free(json);
    json = NULL;

    /* Errors carry the server's answer. */
    if ((rc = runtel_client_call(client, "User", "get", "{\"id\": 999999}", &json, &err)) != RUNTEL_OK) {
        printf("expected failure: %s, HTTP %d, code %d\n", runtel_result_name(rc), runtel_error_http_status(err),
               runtel_error_api_code(err));
        runtel_error_free(err);
        err = NULL;
    }

    /* Page through every CDR, 1000 per request; one page in memory at a time. */
    if ((rc = runtel_records_new(client, "DomainCDR", NULL, NULL, NULL, 1000, 0, &cdrs, &err)) != RUNTEL_OK) {
        report("DomainCDR cursor", rc, err);
        goto done;
    }
    long count = 0;
    for (;;) {
        char *record = NULL;
        if ((rc = runtel_records_next(cdrs, &record, &err)) != RUNTEL_OK) {
            report("DomainCDR.list", rc, err);
            goto done;
        }
        if (record == NULL)
            break;
        count++;
        runtel_string_free(record);
    }
    printf("CDRs: %ld of %lld\n", count, (long long)runtel_records_total_count(cdrs));

    if ((rc = runtel_client_logout(client, &err)) != RUNTEL_OK) {
        report("logout", rc, err);
        goto done;
    }
    printf("logged out\n");
    status = 0;

done:
    runtel_records_free(cdrs);
    runtel_client_free(client);
    runtel_options_free(opts);
    return status;
}

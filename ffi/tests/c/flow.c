/*
 * The whole consent-gated flow through the C ABI, on a real recorded trace excerpt.
 *
 * Build (from the repository root, after `cargo build --release -p motiongate-ffi`):
 *   gcc -std=c11 -Wall -Wextra -Werror -O1 -g -Iinclude ffi/tests/c/flow.c \
 *       target/release/libmotiongate_ffi.a -lpthread -ldl -lm -o flow
 *   valgrind --leak-check=full --error-exitcode=1 ./flow [data/hapt_user01_rec1_excerpt.csv]
 *
 * Exits non-zero with a message on the first mismatch.
 */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "motiongate.h"

static int checks = 0;

#define CHECK_STATUS(call, expected)                                                                   \
    do {                                                                                               \
        mg_status got_ = (call);                                                                       \
        checks++;                                                                                      \
        if (got_ != (expected)) {                                                                      \
            fprintf(stderr, "FAIL %s:%d: %s\n  returned %d (%s), expected %d (%s)\n  last error: %s\n", \
                    __FILE__, __LINE__, #call, (int)got_, mg_status_str(got_), (int)(expected),         \
                    mg_status_str(expected), mg_last_error());                                          \
            exit(1);                                                                                   \
        }                                                                                              \
    } while (0)

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        checks++;                                                             \
        if (!(cond)) {                                                        \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                     \
            fprintf(stderr, "\n");                                            \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

static const char *activity_name(mg_activity a) {
    switch (a) {
    case MG_STILL: return "still";
    case MG_WALKING: return "walking";
    case MG_RUNNING: return "running";
    case MG_TRANSIT: return "transit";
    case MG_UNKNOWN: return "unknown";
    }
    return "?";
}

/* Reads the canonical trace CSV (t,ax,ay,az,gx,gy,gz,label; '#' comments; t in seconds). */
static mg_sample *read_trace(const char *path, size_t *n_out) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s (run from the repository root)", path);
    size_t cap = 1024, n = 0;
    mg_sample *v = malloc(cap * sizeof *v);
    CHECK(v != NULL, "out of memory");
    char line[512];
    int header_seen = 0;
    size_t lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n') continue;
        if (!header_seen) {
            CHECK(strncmp(line, "t,ax,ay,az,gx,gy,gz,label", 25) == 0, "%s:%zu: unexpected header", path, lineno);
            header_seen = 1;
            continue;
        }
        double t;
        float ax, ay, az, gx, gy, gz;
        int k = sscanf(line, "%lf,%f,%f,%f,%f,%f,%f", &t, &ax, &ay, &az, &gx, &gy, &gz);
        CHECK(k == 7, "%s:%zu: expected 7 numeric fields, got %d", path, lineno, k);
        if (n == cap) {
            cap *= 2;
            mg_sample *w = realloc(v, cap * sizeof *v);
            CHECK(w != NULL, "out of memory");
            v = w;
        }
        mg_sample s;
        memset(&s, 0, sizeof s);
        s.t_ns = llround(t * 1e9);
        s.ax = ax; s.ay = ay; s.az = az;
        s.gx = gx; s.gy = gy; s.gz = gz;
        s.has_gyro = 1;
        v[n++] = s;
    }
    fclose(f);
    CHECK(n > 1000, "%s: only %zu samples", path, n);
    *n_out = n;
    return v;
}

static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[4096];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* n samples at 50 Hz of a gentle sway, without gyroscope: z around g (9.81f: the raw accelerometer; 0: linear
 * acceleration, gravity removed). */
static void sway(mg_sample *v, size_t n, float g) {
    for (size_t i = 0; i < n; i++) {
        float t = (float)i * 0.02f;
        memset(&v[i], 0, sizeof v[i]);
        v[i].t_ns = (int64_t)i * 20000000LL;
        v[i].ax = g == 0.0f ? 0.0f : 0.2f * sinf(3.0f * t);
        v[i].ay = g == 0.0f ? 0.0f : 0.1f;
        v[i].az = g + 0.5f * sinf(11.0f * t);
        v[i].has_gyro = 0;
    }
}

static const uint8_t KEY[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const char *PURPOSE = "activity";
static const uint32_t POLICY = 3;
static const int64_t T0 = 1700000000000LL;

int main(int argc, char **argv) {
    const char *trace_path = argc > 1 ? argv[1] : "data/hapt_user01_rec1_excerpt.csv";
    size_t n = 0;
    mg_sample *trace = read_trace(trace_path, &n);
    printf("motiongate %s: %zu samples from %s\n", mg_version(), n, trace_path);

    char dir[] = "/tmp/motiongate-flow-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp failed");
    char record[4200];
    snprintf(record, sizeof record, "%s/consent.json", dir);

    /* 1. Open the gate: nothing asked yet. */
    mg_gate *gate = NULL;
    CHECK_STATUS(mg_gate_open(record, KEY, sizeof KEY, PURPOSE, POLICY, &gate), MG_OK);
    CHECK(gate != NULL, "no gate");
    mg_consent_state st = MG_CONSENT_GRANTED;
    CHECK_STATUS(mg_gate_state(gate, &st), MG_OK);
    CHECK(st == MG_CONSENT_NOT_DETERMINED, "state %d", (int)st);

    /* 2. No session without consent. */
    mg_session *session = (mg_session *)&st; /* must be overwritten with NULL */
    CHECK_STATUS(mg_session_open(gate, &session), MG_GATED_NOT_DETERMINED);
    CHECK(session == NULL, "refused open must set *out to NULL");

    /* Bad arguments on the gate. */
    mg_gate *bad = NULL;
    CHECK_STATUS(mg_gate_open(NULL, KEY, sizeof KEY, PURPOSE, POLICY, &bad), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_gate_open(record, NULL, sizeof KEY, PURPOSE, POLICY, &bad), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_gate_open(record, KEY, 3, PURPOSE, POLICY, &bad), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_gate_open(record, KEY, (size_t)1 << 40, PURPOSE, POLICY, &bad), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_gate_open(record, KEY, sizeof KEY, NULL, POLICY, &bad), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_gate_open(record, KEY, sizeof KEY, "Not A Purpose", POLICY, &bad), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_gate_open(record, KEY, sizeof KEY, "\xff\xfe", POLICY, &bad), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_gate_open("/tmp/\xff/consent.json", KEY, sizeof KEY, PURPOSE, POLICY, &bad),
                 MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_gate_open(record, KEY, sizeof KEY, PURPOSE, POLICY, NULL), MG_ERR_INVALID_ARGUMENT);
    CHECK(bad == NULL, "failed open must leave NULL");
    CHECK(strlen(mg_last_error()) > 0, "last error empty after a failure");
    CHECK_STATUS(mg_gate_state(NULL, &st), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_gate_state(gate, NULL), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_gate_grant(NULL, T0), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_gate_grant(gate, -1), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_gate_grant_sensors(gate, T0, MG_SENSOR_GYROSCOPE), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_gate_deny(NULL, T0), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_gate_withdraw(NULL, T0, NULL), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_session_open(NULL, &session), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_session_open(gate, NULL), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_session_push(NULL, trace, 1), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_session_status(NULL), MG_ERR_INVALID_ARGUMENT);
    mg_event ev;
    CHECK_STATUS(mg_session_next_event(NULL, &ev), MG_ERR_INVALID_ARGUMENT);
    uint64_t classified = 0, no_gravity = 0;
    CHECK_STATUS(mg_session_windows(NULL, &classified, &no_gravity), MG_ERR_INVALID_ARGUMENT);
    CHECK(strcmp(mg_status_str(MG_GATED_WITHDRAWN), "consent for this purpose was withdrawn") == 0, "status str");
    CHECK(strcmp(mg_status_str((mg_status)12345), "unknown status") == 0, "unknown status str");
    mg_gate_free(NULL);
    mg_session_free(NULL);

    /* 3. Grant, open a session. */
    CHECK_STATUS(mg_gate_grant(gate, T0), MG_OK);
    CHECK_STATUS(mg_gate_state(gate, &st), MG_OK);
    CHECK(st == MG_CONSENT_GRANTED, "state %d", (int)st);
    CHECK_STATUS(mg_gate_deny(gate, T0 + 1), MG_ERR_INVALID_TRANSITION);
    CHECK_STATUS(mg_session_open(gate, &session), MG_OK);
    CHECK(session != NULL, "no session");
    CHECK_STATUS(mg_session_status(session), MG_OK);

    /* Bad pushes (before the stream, so they change nothing). */
    CHECK_STATUS(mg_session_push(session, NULL, 0), MG_OK);
    CHECK_STATUS(mg_session_push(session, trace, 0), MG_OK);
    CHECK_STATUS(mg_session_push(session, NULL, 5), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_session_push(session, NULL, (size_t)-1), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_session_push(session, trace, (size_t)1 << 40), MG_ERR_INVALID_ARGUMENT);
    mg_sample weird = trace[0];
    weird.ax = NAN;
    CHECK_STATUS(mg_session_push(session, &weird, 1), MG_ERR_INVALID_SAMPLE);
    CHECK(strstr(mg_last_error(), "sample 0") != NULL, "last error: %s", mg_last_error());
    weird = trace[0];
    weird.has_gyro = 7;
    CHECK_STATUS(mg_session_push(session, &weird, 1), MG_ERR_INVALID_SAMPLE);
    CHECK_STATUS(mg_session_next_event(session, NULL), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_session_next_event(session, &ev), MG_NO_EVENT);
    classified = no_gravity = 77;
    CHECK_STATUS(mg_session_windows(session, NULL, &no_gravity), MG_ERR_INVALID_ARGUMENT);
    CHECK(strstr(mg_last_error(), "out_classified") != NULL, "last error: %s", mg_last_error());
    CHECK_STATUS(mg_session_windows(session, &classified, NULL), MG_ERR_INVALID_ARGUMENT);
    CHECK(strstr(mg_last_error(), "out_without_gravity") != NULL, "last error: %s", mg_last_error());
    CHECK(classified == 77 && no_gravity == 77, "a refused call must write nothing");
    CHECK_STATUS(mg_session_windows(session, &classified, &no_gravity), MG_OK);
    CHECK(classified == 0 && no_gravity == 0, "windows before the stream: %llu, %llu",
          (unsigned long long)classified, (unsigned long long)no_gravity);

    /* 4. Stream the trace in chunks of 37 and read the events. */
    size_t counts[3] = {0, 0, 0};
    int entered_walking = 0, entered_still = 0;
    printf("ENTER timeline (seconds of the trace clock):\n");
    for (size_t i = 0; i < n; i += 37) {
        size_t m = n - i < 37 ? n - i : 37;
        CHECK_STATUS(mg_session_push(session, trace + i, m), MG_OK);
        mg_status s;
        while ((s = mg_session_next_event(session, &ev)) == MG_OK) {
            CHECK(ev.kind <= MG_EXIT && ev.activity <= MG_UNKNOWN, "bad event");
            CHECK(ev.confidence >= 0.0f && ev.confidence <= 1.0f, "confidence %f", ev.confidence);
            CHECK(ev.start_ns <= ev.end_ns, "span");
            counts[ev.kind]++;
            if (ev.kind == MG_ENTER) {
                printf("  %7.2f - %7.2f  %-8s (%.2f)\n", ev.start_ns / 1e9, ev.end_ns / 1e9,
                       activity_name(ev.activity), ev.confidence);
                entered_walking |= ev.activity == MG_WALKING;
                entered_still |= ev.activity == MG_STILL;
            }
        }
        CHECK_STATUS(s, MG_NO_EVENT);
    }
    printf("events: %zu update, %zu enter, %zu exit\n", counts[MG_UPDATE], counts[MG_ENTER], counts[MG_EXIT]);
    CHECK(counts[MG_UPDATE] > 50, "too few updates: %zu", counts[MG_UPDATE]);
    CHECK(entered_walking, "no ENTER of walking");
    CHECK(entered_still, "no ENTER of still");
    /* The excerpt is the raw accelerometer: every window holds gravity. */
    CHECK_STATUS(mg_session_windows(session, &classified, &no_gravity), MG_OK);
    printf("windows: %llu classified, %llu without gravity\n", (unsigned long long)classified,
           (unsigned long long)no_gravity);
    CHECK(classified > 50, "windows classified: %llu", (unsigned long long)classified);
    CHECK(no_gravity == 0, "windows without gravity: %llu", (unsigned long long)no_gravity);
    /* Its gyroscope is in rad/s, as it must be: nothing contradicts the accelerometer, and it is not ignored. */
    uint64_t contradicting = UINT64_MAX, gyro_ignored = UINT64_MAX;
    CHECK_STATUS(mg_session_gyroscope(session, &contradicting, &gyro_ignored), MG_OK);
    CHECK(contradicting == 0 && gyro_ignored == 0, "gyroscope: %llu windows contradicting, ignored %llu",
          (unsigned long long)contradicting, (unsigned long long)gyro_ignored);
    CHECK_STATUS(mg_session_gyroscope(session, NULL, &gyro_ignored), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_session_gyroscope(session, &contradicting, NULL), MG_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(mg_session_gyroscope(NULL, &contradicting, &gyro_ignored), MG_ERR_INVALID_ARGUMENT);

    /* A sample going back in time is refused. */
    weird = trace[0];
    CHECK_STATUS(mg_session_push(session, &weird, 1), MG_ERR_INVALID_SAMPLE);

    /* 5. Withdraw: the session is stopped and wiped; pushes and reads return the gated status. */
    uint64_t wiped = 0;
    CHECK_STATUS(mg_gate_withdraw(gate, T0 + 60000, &wiped), MG_OK);
    printf("withdraw wiped %llu bytes\n", (unsigned long long)wiped);
    CHECK(wiped > 0, "bytes_wiped = 0");
    CHECK_STATUS(mg_session_push(session, trace, 37), MG_GATED_WITHDRAWN);
    CHECK_STATUS(mg_session_push(session, NULL, 0), MG_GATED_WITHDRAWN);
    memset(&ev, 0xAB, sizeof ev);
    CHECK_STATUS(mg_session_next_event(session, &ev), MG_GATED_WITHDRAWN);
    CHECK(ev.start_ns == (int64_t)0xABABABABABABABABULL, "a gated read must not write an event");
    CHECK_STATUS(mg_session_status(session), MG_GATED_WITHDRAWN);
    /* The window counts are not signal data: still readable, and the wipe did not reset them. */
    uint64_t classified_after = 0, no_gravity_after = 1;
    CHECK_STATUS(mg_session_windows(session, &classified_after, &no_gravity_after), MG_OK);
    CHECK(classified_after == classified && no_gravity_after == 0, "windows after withdraw: %llu, %llu",
          (unsigned long long)classified_after, (unsigned long long)no_gravity_after);
    CHECK_STATUS(mg_gate_state(gate, &st), MG_OK);
    CHECK(st == MG_CONSENT_WITHDRAWN, "state %d", (int)st);
    mg_session *again = NULL;
    CHECK_STATUS(mg_session_open(gate, &again), MG_GATED_WITHDRAWN);
    CHECK_STATUS(mg_gate_grant(gate, -5), MG_ERR_INVALID_ARGUMENT);

    /* 6. Free everything; the record persists the withdrawal. */
    mg_session_free(session);
    mg_gate_free(gate);
    gate = NULL;
    CHECK_STATUS(mg_gate_open(record, KEY, sizeof KEY, PURPOSE, POLICY, &gate), MG_OK);
    CHECK_STATUS(mg_gate_state(gate, &st), MG_OK);
    CHECK(st == MG_CONSENT_WITHDRAWN, "reopened state %d", (int)st);
    mg_gate_free(gate);
    gate = NULL;

    /* A newer policy version after a fresh grant: re-consent required. */
    CHECK_STATUS(mg_gate_open(record, KEY, sizeof KEY, PURPOSE, POLICY, &gate), MG_OK);
    CHECK_STATUS(mg_gate_grant(gate, T0 + 70000), MG_OK);

    /* 20 s of the same sway with gravity, then as linear acceleration, then with gravity in g (iOS's unit, passed
     * unconverted): only the second's windows lack gravity, only the third's are refused as acceleration in g. */
    enum { SWAY_N = 1000 };
    mg_sample *swaying = malloc(SWAY_N * sizeof *swaying);
    CHECK(swaying != NULL, "out of memory");
    const float gravities[3] = {9.81f, 0.0f, 1.0f};
    for (int k = 0; k < 3; k++) {
        sway(swaying, SWAY_N, gravities[k] == 1.0f ? 9.81f : gravities[k]);
        if (gravities[k] == 1.0f) {
            for (int j = 0; j < SWAY_N; j++) {
                swaying[j].ax /= 9.81f;
                swaying[j].ay /= 9.81f;
                swaying[j].az /= 9.81f;
            }
        }
        mg_session *s = NULL;
        CHECK_STATUS(mg_session_open(gate, &s), MG_OK);
        CHECK_STATUS(mg_session_push(s, swaying, SWAY_N), MG_OK);
        CHECK_STATUS(mg_session_windows(s, &classified, &no_gravity), MG_OK);
        uint64_t dead = UINT64_MAX, in_g = UINT64_MAX;
        CHECK_STATUS(mg_session_windows_refused(s, &dead, &in_g), MG_OK);
        printf("sway with z around %.2f: %llu windows classified, %llu without gravity, %llu refused as g\n",
               gravities[k], (unsigned long long)classified, (unsigned long long)no_gravity,
               (unsigned long long)in_g);
        CHECK(classified >= 5, "windows classified: %llu", (unsigned long long)classified);
        CHECK(no_gravity == (gravities[k] == 0.0f ? classified : 0), "windows without gravity: %llu",
              (unsigned long long)no_gravity);
        CHECK(dead == 0 && in_g == (gravities[k] == 1.0f ? classified : 0), "windows refused: %llu dead, %llu in g",
              (unsigned long long)dead, (unsigned long long)in_g);
        CHECK_STATUS(mg_session_windows_refused(s, NULL, &in_g), MG_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(mg_session_windows_refused(s, &dead, NULL), MG_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(mg_session_windows_refused(NULL, &dead, &in_g), MG_ERR_INVALID_ARGUMENT);
        mg_session_free(s);
    }
    free(swaying);
    mg_gate_free(gate);
    gate = NULL;
    CHECK_STATUS(mg_gate_open(record, KEY, sizeof KEY, PURPOSE, POLICY + 1, &gate), MG_OK);
    CHECK_STATUS(mg_gate_state(gate, &st), MG_OK);
    CHECK(st == MG_CONSENT_RECONSENT_REQUIRED, "state %d", (int)st);
    CHECK_STATUS(mg_session_open(gate, &again), MG_GATED_RECONSENT_REQUIRED);
    mg_gate_free(gate);
    gate = NULL;

    /* 7. A damaged record, or another key: the gate fails closed. */
    FILE *f = fopen(record, "r+b");
    CHECK(f != NULL, "cannot open the record");
    CHECK(fseek(f, 0, SEEK_END) == 0, "seek");
    long size = ftell(f);
    CHECK(size > 100, "record size %ld", size);
    long at = size / 2;
    CHECK(fseek(f, at, SEEK_SET) == 0, "seek");
    int orig = fgetc(f);
    CHECK(orig != EOF, "read");
    CHECK(fseek(f, at, SEEK_SET) == 0, "seek");
    fputc(orig ^ 0x04, f);
    fclose(f);
    CHECK_STATUS(mg_gate_open(record, KEY, sizeof KEY, PURPOSE, POLICY + 1, &gate), MG_ERR_STORE_TAMPERED);
    CHECK(gate == NULL, "tampered open must leave NULL");

    f = fopen(record, "r+b");
    CHECK(f != NULL, "cannot open the record");
    CHECK(fseek(f, at, SEEK_SET) == 0, "seek");
    fputc(orig, f);
    fclose(f);
    uint8_t other_key[32];
    memcpy(other_key, KEY, sizeof other_key);
    other_key[0] ^= 0xFF;
    CHECK_STATUS(mg_gate_open(record, other_key, sizeof other_key, PURPOSE, POLICY + 1, &gate), MG_ERR_STORE_TAMPERED);
    CHECK_STATUS(mg_gate_open(record, KEY, sizeof KEY, PURPOSE, POLICY + 1, &gate), MG_OK);

    /* 8. A host that keeps the record's head elsewhere opens against it: the head it kept opens the record, any
     * other head (a rolled-back or replaced record) is refused before anything is written. */
    uint64_t count = 0;
    char hash[MG_HEAD_HASH_SIZE];
    CHECK_STATUS(mg_gate_head(gate, &count, hash, sizeof hash), MG_OK);
    mg_gate_free(gate);
    gate = NULL;
    CHECK_STATUS(mg_gate_open_checked(record, KEY, sizeof KEY, PURPOSE, POLICY + 1, count, hash, &gate), MG_OK);
    mg_gate_free(gate);
    gate = (mg_gate *)&st; /* must be overwritten with NULL */
    CHECK_STATUS(mg_gate_open_checked(record, KEY, sizeof KEY, PURPOSE, POLICY + 1, count - 1, hash, &gate),
                 MG_ERR_STORE_TAMPERED);
    CHECK(gate == NULL, "refused open must leave NULL");
    CHECK_STATUS(mg_gate_open_checked(record, KEY, sizeof KEY, PURPOSE, POLICY + 1, count, "0123", &gate),
                 MG_ERR_INVALID_ARGUMENT);
    CHECK(gate == NULL, "refused open must leave NULL");

    free(trace);
    remove_dir(dir);
    printf("flow.c: all %d checks passed\n", checks);
    return 0;
}

// llama.cpp's logits at every position of given token ids, for accuracy comparisons on the same
// GGUF file (tools/kl_vs_llamacpp.py). Each prompt is decoded as one batch in a fresh context,
// so the logits come from llama.cpp's prompt path (the products with int8 activation blocks).
//
// Build against a llama.cpp build (e.g. the one from the llama-cpp-python sdist, see
// docs/PERFORMANCE.md); LLAMA is the source tree, LIB the folder holding libllama.so:
//   cc -O2 -I$LLAMA/include -I$LLAMA/ggml/include tools/llama_logits.c -L$LIB -lllama -lggml -lggml-base \
//      -Wl,-rpath,$LIB -o llama_logits
// Usage: llama_logits MODEL.gguf IDS.txt OUT.f32 [threads]
//   IDS.txt: one prompt per line, token ids separated by spaces.
//   OUT.f32: for each prompt in order, n × vocab float32 logits (row = position), little-endian.
#include "llama.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void quiet(enum ggml_log_level level, const char *text, void *user) {
    (void)user;
    if (level >= GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL.gguf IDS.txt OUT.f32 [threads]\n", argv[0]);
        return 2;
    }
    const int threads = argc > 4 ? atoi(argv[4]) : 2;
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        fprintf(stderr, "error: cannot load %s\n", argv[1]);
        return 1;
    }
    const int vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    FILE *in = fopen(argv[2], "r"), *out = fopen(argv[3], "wb");
    if (!in || !out) {
        fprintf(stderr, "error: cannot open %s or %s\n", argv[2], argv[3]);
        return 1;
    }
    static char line[1 << 20];
    int prompts = 0;
    while (fgets(line, sizeof line, in)) {
        int ids[8192], n = 0;
        for (char *p = strtok(line, " \t\n"); p && n < 8192; p = strtok(NULL, " \t\n")) ids[n++] = atoi(p);
        if (n == 0) continue;
        struct llama_context_params cp = llama_context_default_params();
        cp.n_ctx = (uint32_t)(n < 512 ? 512 : n);
        cp.n_batch = cp.n_ubatch = cp.n_ctx;
        cp.n_threads = cp.n_threads_batch = threads;
        struct llama_context *ctx = llama_init_from_model(model, cp);
        struct llama_batch batch = llama_batch_init(n, 0, 1);
        for (int i = 0; i < n; i++) {
            batch.token[i] = ids[i];
            batch.pos[i] = i;
            batch.n_seq_id[i] = 1;
            batch.seq_id[i][0] = 0;
            batch.logits[i] = 1;
        }
        batch.n_tokens = n;
        if (!ctx || llama_decode(ctx, batch) != 0) {
            fprintf(stderr, "error: llama_decode failed on prompt %d\n", prompts);
            return 1;
        }
        for (int i = 0; i < n; i++) fwrite(llama_get_logits_ith(ctx, i), sizeof(float), (size_t)vocab, out);
        llama_batch_free(batch);
        llama_free(ctx);
        prompts++;
    }
    fclose(out);
    fprintf(stderr, "%d prompts, vocab %d\n", prompts, vocab);
    llama_model_free(model);
    return 0;
}

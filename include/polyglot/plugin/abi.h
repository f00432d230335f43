/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file
 * The polyglot backend plugin ABI: pure C99, only <stdint.h> and <stddef.h>.
 *
 * A plugin is a shared library exporting
 *   - `polyglot_plugin_entry` (required): returns the plugin's function table, and
 *   - `polyglot_plugin_score` (optional): 0 = "unusable on this machine", higher = better.
 *
 * Rules (docs/plugin-abi.md has the full text):
 *   - The table is APPEND-ONLY. Members are never reordered, removed or retyped; new members go
 *     at the end, and `struct_size` tells the host which of them a plugin has. Bump
 *     POLYGLOT_PLUGIN_ABI_VERSION only for an incompatible change (the host refuses a plugin
 *     whose abi_version differs from its own). tests/plugins/abi_layout_test.cpp pins the
 *     offset of the last member of every shipped version.
 *   - Handles are opaque. Text crosses as one UTF-8 buffer plus offsets. Outputs are allocated
 *     by the caller; no memory is ever freed on the other side of the boundary.
 *   - Every fallible call returns a polyglot_status; the message of the last failure is read
 *     with `last_error`. No exception, abort() or exit() may leave a plugin.
 *   - Plugin-owned strings (name, version, description, last_error) are UTF-8 and NUL-terminated.
 */
#ifndef POLYGLOT_PLUGIN_ABI_H
#define POLYGLOT_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The ABI this header describes. Changes only on an incompatible change. */
#define POLYGLOT_PLUGIN_ABI_VERSION 1u

/** Names of the exported symbols (the host looks them up by these names). */
#define POLYGLOT_PLUGIN_ENTRY_SYMBOL "polyglot_plugin_entry"
#define POLYGLOT_PLUGIN_SCORE_SYMBOL "polyglot_plugin_score"

#if defined(_WIN32)
#define POLYGLOT_PLUGIN_EXPORT __declspec(dllexport)
#else
#define POLYGLOT_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/*
 * Status codes
 */
typedef int32_t polyglot_status;
#define POLYGLOT_STATUS_OK 0               /**< success */
#define POLYGLOT_STATUS_INVALID_ARGUMENT 1 /**< a bad argument or configuration */
#define POLYGLOT_STATUS_UNSUPPORTED 2      /**< the plugin or model cannot do this */
#define POLYGLOT_STATUS_OUT_OF_MEMORY 3    /**< host or device memory exhausted */
#define POLYGLOT_STATUS_DEVICE_ERROR 4     /**< the device or its driver failed */
#define POLYGLOT_STATUS_INTERNAL 5         /**< a bug or an unexpected condition */
#define POLYGLOT_STATUS_IO_ERROR 6         /**< a model file could not be read */
#define POLYGLOT_STATUS_FORMAT_ERROR 7     /**< a model file is malformed */
#define POLYGLOT_STATUS_BUFFER_TOO_SMALL 8 /**< a caller buffer is too small; see `needed` */
#define POLYGLOT_STATUS_CANCELLED 9        /**< the caller cancelled the call (polyglot_call_context) */
#define POLYGLOT_STATUS_UNAVAILABLE 10     /**< a server or device did not answer (after retries) */

/*
 * Capability bits (polyglot_plugin_v1::caps): what a plugin can do at all. Whether one
 * loaded model does it is asked with `supports`.
 */
#define POLYGLOT_CAP_EMBED (1ull << 0)    /**< sentence embeddings */
#define POLYGLOT_CAP_TOKENIZE (1ull << 1) /**< text -> token ids */
#define POLYGLOT_CAP_SCORE (1ull << 2)    /**< log-probs of a response given a prompt */
#define POLYGLOT_CAP_GENERATE (1ull << 3) /**< text generation (`generate`) */

/** Operations for `supports` (one per capability bit). */
typedef int32_t polyglot_op;
#define POLYGLOT_OP_EMBED 0
#define POLYGLOT_OP_TOKENIZE 1
#define POLYGLOT_OP_SCORE 2
#define POLYGLOT_OP_GENERATE 3
#define POLYGLOT_OP_SCORE_IDS 4   /**< log-probs of caller-given token ids (`score_ids`) */
#define POLYGLOT_OP_DETOKENIZE 5  /**< token ids -> text (`detokenize`) */
#define POLYGLOT_OP_CHAT 6        /**< `generate` takes chat messages (POLYGLOT_PROMPT_MESSAGES) */
#define POLYGLOT_OP_JSON_SCHEMA 7 /**< `generate` honours polyglot_generate_request::json_schema */

/** Flags for `tokenize`. */
#define POLYGLOT_TOKENIZE_ADD_SPECIAL 1u /**< add the model's special tokens (e.g. BOS) */
/** Recognise special tokens written in the text (`<|im_start|>` as one control token). Without
    it, their text is tokenized as ordinary text (Hugging Face's split_special_tokens=True). */
#define POLYGLOT_TOKENIZE_PARSE_SPECIAL 2u

/** Flags for `detokenize`. */
#define POLYGLOT_DETOKENIZE_SKIP_SPECIAL 1u /**< leave special tokens out of the text */

/** Device kinds (polyglot_device_info::type). */
#define POLYGLOT_DEVICE_CPU 0
#define POLYGLOT_DEVICE_GPU 1
#define POLYGLOT_DEVICE_ACCEL 2

/** Opaque model handle, created by `create` and released by `destroy`. */
typedef struct polyglot_model* polyglot_model_t;

/**
 * A batch of n UTF-8 texts in one buffer: text i is bytes [offsets[i], offsets[i + 1]) of
 * `data`. `offsets` has n + 1 entries, offsets[0] == 0. Texts are not NUL-terminated and may
 * contain any bytes (a plugin must not crash on invalid UTF-8). Owned by the caller, valid for
 * the duration of the call only.
 */
typedef struct polyglot_text_batch {
    const char* data;
    const uint64_t* offsets;
    uint64_t n;
} polyglot_text_batch;

/** One scored (prompt, response) pair; the host's polyglot::lm_score in C. */
typedef struct polyglot_score_result {
    double sum_nll;           /**< sum of -log p over scored response tokens, in nats */
    uint32_t n_scored;        /**< response tokens scored (a token at position 0 is not) */
    uint32_t prompt_tokens;   /**< prompt tokens after truncation, special tokens included */
    uint32_t response_tokens; /**< response tokens after truncation */
    uint32_t truncated;       /**< 1 if the pair was cut to the model's max_tokens, else 0 */
} polyglot_score_result;

/**
 * One device a plugin can run on (for `polyglot backends`). The caller sets `struct_size` to
 * sizeof(polyglot_device_info) before the call; the plugin writes no byte beyond it.
 */
typedef struct polyglot_device_info {
    uint32_t struct_size;
    int32_t type;          /**< POLYGLOT_DEVICE_* */
    uint64_t memory_total; /**< bytes, 0 = unknown */
    uint64_t memory_free;  /**< bytes, 0 = unknown */
    char name[64];         /**< NUL-terminated, e.g. "cpu", "cuda:0" */
    char description[192]; /**< NUL-terminated, e.g. "NVIDIA H100 80GB HBM3 (sm_90)" */
} polyglot_device_info;

/*
 * ---- Types of the ABI 1.1 revision (appended members: GENERATE, score_ids, detokenize, and the
 * bounds-checked variants of embed / tokenize / score). Every struct below begins with
 * `struct_size`, set by whoever allocates it to sizeof at its build time; the other side reads
 * and writes no byte at or beyond it, so these structs may grow at their end.
 */

/**
 * A batch of n UTF-8 texts that carries its byte size, so that a plugin can bounds-check every
 * offset: text i is bytes [offsets[i], offsets[i + 1]) of `data`, offsets[0] == 0, offsets never
 * decrease, offsets[n] <= data_size. Caller-owned, valid for the duration of the call.
 */
typedef struct polyglot_texts {
    uint32_t struct_size;
    const char* data;
    uint64_t data_size;      /**< bytes in data */
    const uint64_t* offsets; /**< n + 1 entries */
    uint64_t n;
} polyglot_texts;

/** n token-id sequences: sequence i is ids[offsets[i], offsets[i + 1]) (same rules as texts). */
typedef struct polyglot_id_batch {
    uint32_t struct_size;
    const int32_t* ids;
    uint64_t ids_size;       /**< entries in ids */
    const uint64_t* offsets; /**< n + 1 entries */
    uint64_t n;
} polyglot_id_batch;

/**
 * Per-call hooks, all optional (the pointer to this struct may itself be NULL).
 *
 * Per-item failures: when `item_error` is set, an item that fails (a prompt longer than the
 * context, a token id outside the vocabulary, a server request that failed after its retries)
 * is reported through it and the call goes on with the other items and returns OK; the failed
 * item's outputs are unspecified (NaN scores, zero-length generations). Without `item_error`, the
 * first failing item fails the whole call, its message naming the item's index.
 */
typedef struct polyglot_call_context {
    uint32_t struct_size;
    void* user; /**< passed back to the callbacks */
    /** (optional) Progress: `done` of `total` items finished, `tokens` processed so far. Called
        from any plugin thread, never concurrently, at most every ~100 ms. */
    void (*progress)(void* user, uint64_t done, uint64_t total, uint64_t tokens);
    /** (optional) Item `index` (0-based within this call) failed with `status` and a message.
        Called from any plugin thread, never concurrently. */
    void (*item_error)(void* user, uint64_t index, polyglot_status status, const char* message);
    /** (optional) The caller sets *cancel non-zero to stop the call early: the plugin then
        returns POLYGLOT_STATUS_CANCELLED as soon as it can (outputs of finished items stand). */
    const volatile int32_t* cancel;
} polyglot_call_context;

/**
 * SCORE on caller-given token ids (student evaluation, remote scoring): for each sequence i and
 * each position p in [max(score_from[i], 1), len_i), the log-probability of ids[p] given
 * ids[0, p), written to logprobs[offsets[i] + p]; other entries are set to NaN. A sequence
 * longer than the model's context is an item failure (never silently cut: the caller decides
 * truncation). Sequences sharing a prefix may be computed once (prefix reuse) within the
 * stated tolerance.
 */
typedef struct polyglot_score_ids_request {
    uint32_t struct_size;
    const polyglot_id_batch* seqs;
    const uint64_t* score_from; /**< seqs->n entries */
    float* logprobs;            /**< out: out_cap floats, caller-owned */
    uint8_t* greedy;            /**< (optional) out: out_cap bytes, 1 where ids[p] is the argmax */
    uint64_t out_cap;           /**< must be >= seqs->ids_size */
    const polyglot_call_context* ctx; /**< (optional) */
} polyglot_score_ids_request;

/** polyglot_generate_request::prompt_kind */
#define POLYGLOT_PROMPT_TEXT 0     /**< `prompts`: texts, tokenized by the model */
#define POLYGLOT_PROMPT_IDS 1      /**< `prompt_ids`: token ids, used as given */
#define POLYGLOT_PROMPT_MESSAGES 2 /**< `prompts`: JSON arrays of chat messages (POLYGLOT_OP_CHAT) */

/** polyglot_generate_request::flags */
#define POLYGLOT_GENERATE_ADD_SPECIAL 1u   /**< TEXT prompts: add the model's special tokens (BOS) */
#define POLYGLOT_GENERATE_PARSE_SPECIAL 2u /**< TEXT prompts: recognise special tokens in the text */
#define POLYGLOT_GENERATE_LOGPROBS 4u      /**< fill polyglot_generation::logprobs */
#define POLYGLOT_GENERATE_IGNORE_EOS 8u    /**< do not stop at the model's EOS ids */
#define POLYGLOT_GENERATE_KEEP_SPECIAL 16u /**< keep special tokens in the text (default: skipped) */
#define POLYGLOT_GENERATE_ADD_GENERATION_PROMPT 32u /**< MESSAGES prompts: end with the assistant header */

/** polyglot_generation::finish_reason */
#define POLYGLOT_FINISH_NONE 0   /**< not finished (the item failed or the call was cancelled) */
#define POLYGLOT_FINISH_EOS 1    /**< an EOS id of the model (generation_config.json) or a stop id */
#define POLYGLOT_FINISH_STOP 2   /**< a stop string (not part of the text) */
#define POLYGLOT_FINISH_LENGTH 3 /**< max_new_tokens reached (or the model's context) */

/**
 * GENERATE request: n prompts, one sampling configuration. Sampling follows llama.cpp's and
 * vLLM's parameters: repetition penalty, then temperature, top-k, top-p, min-p. Sequence i draws
 * from its own RNG seeded from (seed, first_index + i), so a result never depends on batch
 * composition, thread count, or how the caller splits a job into calls.
 */
struct polyglot_generate_request {
    uint32_t struct_size;
    int32_t prompt_kind;                 /**< POLYGLOT_PROMPT_* */
    const polyglot_texts* prompts;       /**< TEXT / MESSAGES prompts (NULL for IDS) */
    const polyglot_id_batch* prompt_ids; /**< IDS prompts (NULL otherwise) */
    uint32_t flags;                      /**< POLYGLOT_GENERATE_* */
    uint32_t max_new_tokens;             /**< 0 is an argument error */
    float temperature;                   /**< <= 0: greedy (argmax) */
    int32_t top_k;                       /**< <= 0: off */
    float top_p;                         /**< >= 1: off */
    float min_p;                         /**< <= 0: off */
    float repetition_penalty;            /**< 1: off (HF/vLLM rule: divide positive logits) */
    uint32_t reserved;                   /**< must be 0 */
    uint64_t seed;
    uint64_t first_index;                /**< the job-wide index of prompt 0 (for the RNG) */
    const polyglot_texts* stop;          /**< (optional) stop strings */
    const int32_t* stop_ids;             /**< (optional) extra stop token ids */
    uint64_t n_stop_ids;
    const char* json_schema;             /**< (optional) NUL-terminated JSON schema to follow */
    const char* extra_json;              /**< (optional) backend-specific JSON object; unknown
                                              keys are ignored */
    const polyglot_call_context* ctx;    /**< (optional) */
};
typedef struct polyglot_generate_request polyglot_generate_request;

/** One generated sequence; caller-allocated buffers, plugin-written outputs. */
typedef struct polyglot_generation {
    uint32_t struct_size;
    polyglot_status status; /**< out: OK, or why this item failed (BUFFER_TOO_SMALL: text_cap) */
    char* text;             /**< out: UTF-8, not NUL-terminated; text_cap bytes, caller-owned */
    uint64_t text_cap;
    uint64_t text_len;      /**< out: bytes of the text; > text_cap means BUFFER_TOO_SMALL */
    int32_t* ids;           /**< out: generated ids (the prompt excluded; an EOS / stop id that
                                 ended the sequence included, though its text is not in `text`);
                                 ids_cap entries */
    uint32_t ids_cap;       /**< >= max_new_tokens */
    uint32_t n_ids;         /**< out */
    float* logprobs;        /**< (optional) out: ids_cap floats, log p of each generated id under
                                 the model (log-softmax of the raw logits, before sampling
                                 transforms), with POLYGLOT_GENERATE_LOGPROBS */
    int32_t finish_reason;  /**< out: POLYGLOT_FINISH_* */
    uint32_t prompt_tokens; /**< out: prompt length in tokens */
} polyglot_generation;

/** GENERATE result: one polyglot_generation per prompt. */
struct polyglot_generate_result {
    uint32_t struct_size;
    polyglot_generation* items; /**< n_items entries, caller-owned */
    uint64_t n_items;           /**< must equal the number of prompts */
};
typedef struct polyglot_generate_result polyglot_generate_result;

/**
 * The function table a plugin returns from `polyglot_plugin_entry`. Owned by the plugin,
 * static, valid for the life of the process (plugins are never unloaded).
 *
 * Thread-safety: the table functions (`create`, `device_*`, `get_proc_address`) may be called
 * from any thread. A model's functions may be called from several threads at once only where
 * the member's comment says so; the host otherwise serialises calls on one model.
 */
typedef struct polyglot_plugin_v1 {
    /*
     * Header: identical in every ABI version.
     */
    /* POLYGLOT_PLUGIN_ABI_VERSION at the plugin's build time. */
    uint32_t abi_version;
    /* sizeof(polyglot_plugin_v1) at the plugin's build time: members at or beyond it are absent. */
    uint32_t struct_size;
    /* Short name, [a-z0-9_-]+ ("cpu", "cuda"): what `--backend NAME` selects. */
    const char* name;
    /* The plugin's own version string ("0.1.0"). */
    const char* version;
    /* POLYGLOT_CAP_* bits. */
    uint64_t caps;

    /*
     * Version 1
     */
    /* (optional) One line describing the plugin; NULL = none. */
    const char* description;

    /* Creates a model from a JSON object: {"model": PATH, "threads": N, "max_tokens": N,
       "batch_tokens": N, "pooling": "mean"|"last", ...}; unknown keys are ignored. On failure
       returns a status, leaves *out NULL and writes a NUL-terminated message into err (at most
       err_cap bytes, err may be NULL when err_cap is 0). */
    polyglot_status (*create)(const char* config_json, polyglot_model_t* out, char* err,
                              size_t err_cap);
    /* Releases a model; NULL is a no-op. */
    void (*destroy)(polyglot_model_t model);
    /* Message of the last failed call the calling thread made into this plugin ("" if none):
       the message is per THREAD, not per model (`model` is accepted for symmetry and may be
       NULL); read it on the thread that saw the failure, before its next call into the plugin.
       Never NULL. */
    const char* (*last_error)(polyglot_model_t model);
    /* 1 if `model` can do `op`, else 0. */
    int32_t (*supports)(polyglot_model_t model, polyglot_op op);
    /* (optional) Writes a NUL-terminated JSON object describing the model (identity, dim, vocab
       size, ...) into buf (cap bytes); *needed = bytes required including the NUL. Returns
       BUFFER_TOO_SMALL when cap < *needed. NULL = "{}". */
    polyglot_status (*get_info)(polyglot_model_t model, char* buf, size_t cap, size_t* needed);

    /* EMBED: the embedding dimension. */
    polyglot_status (*get_dim)(polyglot_model_t model, uint32_t* dim);
    /* EMBED: embeds texts->n texts into out (texts->n * dim floats, row-major, caller-owned;
       out_count must equal texts->n * dim). Thread-safe for one model. */
    polyglot_status (*embed)(polyglot_model_t model, const polyglot_text_batch* texts, float* out,
                             uint64_t out_count);
    /* TOKENIZE: tokenizes each text into ids (ids_cap int32 slots, caller-owned); text i gets
       ids [offsets[i], offsets[i + 1]) (offsets: texts->n + 1 entries, caller-owned). *needed =
       total ids required. Returns BUFFER_TOO_SMALL (offsets and ids then unspecified) when
       ids_cap < *needed. flags: POLYGLOT_TOKENIZE_*. Thread-safe for one model. */
    polyglot_status (*tokenize)(polyglot_model_t model, const polyglot_text_batch* texts,
                                uint32_t flags, int32_t* ids, uint64_t ids_cap, uint64_t* offsets,
                                uint64_t* needed);
    /* SCORE: scores response i given prompt i into out[i] (prompts->n entries, caller-owned);
       prompts->n must equal responses->n. */
    polyglot_status (*score)(polyglot_model_t model, const polyglot_text_batch* prompts,
                             const polyglot_text_batch* responses, polyglot_score_result* out);
    /* GENERATE (optional): generates one continuation per prompt (see polyglot_generate_request);
       per-item outcomes in result->items[i].status. Called from one thread at a time. */
    polyglot_status (*generate)(polyglot_model_t model, const polyglot_generate_request* request,
                                polyglot_generate_result* result);

    /* (optional) Number of devices the plugin can use here; NULL = one unnamed device. */
    uint32_t (*device_count)(void);
    /* (optional) Describes device i < device_count() into *out (see polyglot_device_info). */
    polyglot_status (*device_info)(uint32_t index, polyglot_device_info* out);
    /* (optional) Experimental extensions by name, NULL if unknown: grows the surface without an
       ABI bump. Returns a function pointer cast to void*. Known names:
       POLYGLOT_SELF_TEST_PROC (below). */
    void* (*get_proc_address)(const char* name);
    /* (optional) Why polyglot_plugin_score returns 0 here ("no CUDA device", "driver too old");
       NULL or "" = no reason given. Static or thread-local storage; never NULL when set. */
    const char* (*unusable_reason)(void);
    /* ---- End of version 1 members. Append below this line only (see docs/plugin-abi.md). ---- */

    /*
     * Version 1.1 (appended; absent when struct_size says so, and every member may be NULL).
     * The host prefers these over the version-1 members they refine.
     */
    /* EMBED, bounds-checked: texts->n * dim floats into out (out_cap floats, caller-owned; the
       product is checked for overflow). Thread-safe for one model. */
    polyglot_status (*embed_texts)(polyglot_model_t model, const polyglot_texts* texts, float* out,
                                   uint64_t out_cap, const polyglot_call_context* ctx);
    /* TOKENIZE, bounds-checked: as `tokenize`, with offsets_cap (>= texts->n + 1) for the
       caller's offsets array. flags: POLYGLOT_TOKENIZE_*. Thread-safe for one model. */
    polyglot_status (*tokenize_texts)(polyglot_model_t model, const polyglot_texts* texts,
                                      uint32_t flags, int32_t* ids, uint64_t ids_cap,
                                      uint64_t* offsets, uint64_t offsets_cap, uint64_t* needed);
    /* SCORE, bounds-checked: out has out_cap entries (>= prompts->n). Per-item failures go to
       ctx->item_error when set (see polyglot_call_context). */
    polyglot_status (*score_texts)(polyglot_model_t model, const polyglot_texts* prompts,
                                   const polyglot_texts* responses, polyglot_score_result* out,
                                   uint64_t out_cap, const polyglot_call_context* ctx);
    /* SCORE on token ids (POLYGLOT_OP_SCORE_IDS); see polyglot_score_ids_request. */
    polyglot_status (*score_ids)(polyglot_model_t model, const polyglot_score_ids_request* request);
    /* DETOKENIZE (POLYGLOT_OP_DETOKENIZE): sequence i's text into text[offsets[i], offsets[i+1])
       (text_cap bytes, offsets_cap >= seqs->n + 1, caller-owned); *needed = bytes required.
       BUFFER_TOO_SMALL when text_cap < *needed. flags: POLYGLOT_DETOKENIZE_*. Thread-safe. */
    polyglot_status (*detokenize)(polyglot_model_t model, const polyglot_id_batch* seqs,
                                  uint32_t flags, char* text, uint64_t text_cap, uint64_t* offsets,
                                  uint64_t offsets_cap, uint64_t* needed);
    /* ---- End of version 1.1 members. Append below this line only. ---- */
} polyglot_plugin_v1;

/** Signature of the required export `polyglot_plugin_entry`: returns the table, or NULL when
    the plugin cannot serve a host speaking `host_abi` or failed to initialise. */
typedef const polyglot_plugin_v1* (*polyglot_plugin_entry_fn)(uint32_t host_abi);

/** Signature of the optional export `polyglot_plugin_score`: 0 = unusable on this machine (no
    device, driver or ISA); larger = preferred by `--backend auto`. Must be cheap and must not
    initialise devices beyond what is needed to answer (a plugin that proves its device with a
    known-answer self-test runs it here, once per process, and answers 0 when it fails). */
typedef int32_t (*polyglot_plugin_score_fn)(void);

/* Extension "polyglot_self_test_v1" (get_proc_address): `const char* f(void)` returns the
   plugin's known-answer self-test verdict as a JSON object {"status": "passed"|"failed",
   "summary", "checks": [...], "failures": [...]} (storage valid for the life of the process).
   A plugin whose self-test failed also scores 0 and gives the summary as unusable_reason. */
#define POLYGLOT_SELF_TEST_PROC "polyglot_self_test_v1"
typedef const char* (*polyglot_self_test_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* POLYGLOT_PLUGIN_ABI_H */

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

/*
 * Capability bits (polyglot_plugin_v1::caps): what a plugin can do at all. Whether one
 * loaded model does it is asked with `supports`.
 */
#define POLYGLOT_CAP_EMBED (1ull << 0)    /**< sentence embeddings */
#define POLYGLOT_CAP_TOKENIZE (1ull << 1) /**< text -> token ids */
#define POLYGLOT_CAP_SCORE (1ull << 2)    /**< log-probs of a response given a prompt */
#define POLYGLOT_CAP_GENERATE (1ull << 3) /**< text generation (reserved; later ABI members) */

/** Operations for `supports` (one per capability bit). */
typedef int32_t polyglot_op;
#define POLYGLOT_OP_EMBED 0
#define POLYGLOT_OP_TOKENIZE 1
#define POLYGLOT_OP_SCORE 2
#define POLYGLOT_OP_GENERATE 3

/** Flags for `tokenize`. */
#define POLYGLOT_TOKENIZE_ADD_SPECIAL 1u /**< add the model's special tokens (e.g. BOS) */

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

/**
 * GENERATE request and result: defined by the ABI revision that implements GENERATE. The
 * slot for it already exists (polyglot_plugin_v1::generate) and is NULL until then.
 */
typedef struct polyglot_generate_request polyglot_generate_request;
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
    /* Message of the last failed call on `model` made by the calling thread ("" if none); valid
       until that thread's next call into the plugin. Never NULL. */
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
    /* GENERATE (optional, reserved): NULL until the GENERATE ABI revision defines its types. */
    polyglot_status (*generate)(polyglot_model_t model, const polyglot_generate_request* request,
                                polyglot_generate_result* result);

    /* (optional) Number of devices the plugin can use here; NULL = one unnamed device. */
    uint32_t (*device_count)(void);
    /* (optional) Describes device i < device_count() into *out (see polyglot_device_info). */
    polyglot_status (*device_info)(uint32_t index, polyglot_device_info* out);
    /* (optional) Experimental extensions by name, NULL if unknown: grows the surface without an
       ABI bump. Returns a function pointer cast to void*. */
    void* (*get_proc_address)(const char* name);
    /* (optional) Why polyglot_plugin_score returns 0 here ("no CUDA device", "driver too old");
       NULL or "" = no reason given. Static or thread-local storage; never NULL when set. */
    const char* (*unusable_reason)(void);
    /* ---- End of version 1 members. Append below this line only (see docs/plugin-abi.md). ---- */
} polyglot_plugin_v1;

/** Signature of the required export `polyglot_plugin_entry`: returns the table, or NULL when
    the plugin cannot serve a host speaking `host_abi` or failed to initialise. */
typedef const polyglot_plugin_v1* (*polyglot_plugin_entry_fn)(uint32_t host_abi);

/** Signature of the optional export `polyglot_plugin_score`: 0 = unusable on this machine (no
    device, driver or ISA); larger = preferred by `--backend auto`. Must be cheap and must not
    initialise devices beyond what is needed to answer. */
typedef int32_t (*polyglot_plugin_score_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* POLYGLOT_PLUGIN_ABI_H */

# Engine tests (issue 5): link the model loaders and the cpu engine statically.

# polyglot_engine_test(NAME SOURCE [LIB...]): a `plugins` test of tests/engine/SOURCE, linking
# LIB... and the model loaders (polyglot_model_common, simdjson).
function(polyglot_engine_test name source)
  polyglot_add_test(${name} SOURCES "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/engine/${source}"
    LIBS ${ARGN} polyglot_model_common simdjson::simdjson LABELS plugins)
endfunction()

if(TARGET polyglot_model_common)
  polyglot_engine_test(engine_tokenizer_test tokenizer_test.cpp)
endif()
if(TARGET polyglot_cpu_engine)
  polyglot_engine_test(engine_model_test model_test.cpp polyglot_cpu_engine)
  polyglot_engine_test(engine_robustness_test robustness_test.cpp polyglot_cpu_engine)
endif()
if(TARGET polyglot_cpu_engine AND TARGET polyglot_cli)
  polyglot_engine_test(engine_cli_test cli_test.cpp)
  add_dependencies(engine_cli_test polyglot_cli polyglot_plugin_cpu)
endif()
if(TARGET polyglot_cpu_engine)
  polyglot_engine_test(engine_generate_test generate_test.cpp polyglot_cpu_engine)
endif()
if(TARGET polyglot_model_runtime)
  polyglot_engine_test(runtime_rules_test runtime_rules_test.cpp polyglot_model_runtime)
endif()
# Generation on the portable SSE2 kernels too, which a machine without AVX2 + FMA takes (the
# model tests run every path the CPU has themselves: tests/engine/cpu_runtime.hpp).
if(TARGET engine_generate_test)
  add_test(NAME engine_generate_test_sse2 COMMAND engine_generate_test WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(engine_generate_test_sse2 PROPERTIES LABELS plugins ENVIRONMENT POLYGLOT_CPU_ISA=sse2)
endif()
if(TARGET polyglot_model_common)
  # Ids, decoding and stream decoding against HF's Rust `tokenizers` (tests/oracles/).
  polyglot_engine_test(engine_hf_tokenizer_oracle_test hf_tokenizer_oracle_test.cpp ICU::uc)
endif()
if(TARGET polyglot_model_runtime)
  # The self-test's reference forward pass against HF transformers (fixtures' expected.json).
  polyglot_engine_test(engine_reference_test reference_test.cpp polyglot_model_runtime)
endif()
if(TARGET polyglot_model_runtime AND TARGET polyglot_cpu_engine)
  # The known-answer self-test: the cpu engine passes it, spoiled devices fail it.
  polyglot_engine_test(engine_self_test_test self_test_test.cpp polyglot_cpu_engine
    polyglot_model_runtime)
endif()

# Engine tests (issue 5): link the model loaders and the cpu engine statically.
if(TARGET polyglot_model_common)
  polyglot_add_test(engine_tokenizer_test SOURCES "${CMAKE_CURRENT_LIST_DIR}/engine/tokenizer_test.cpp"
    LIBS polyglot_model_common simdjson::simdjson LABELS plugins)
endif()
if(TARGET polyglot_cpu_engine)
  polyglot_add_test(engine_model_test SOURCES "${CMAKE_CURRENT_LIST_DIR}/engine/model_test.cpp"
    LIBS polyglot_cpu_engine polyglot_model_common simdjson::simdjson LABELS plugins)
endif()
if(TARGET polyglot_cpu_engine)
  polyglot_add_test(engine_robustness_test SOURCES "${CMAKE_CURRENT_LIST_DIR}/engine/robustness_test.cpp"
    LIBS polyglot_cpu_engine polyglot_model_common simdjson::simdjson LABELS plugins)
endif()
if(TARGET polyglot_cpu_engine AND TARGET polyglot_cli)
  polyglot_add_test(engine_cli_test SOURCES "${CMAKE_CURRENT_LIST_DIR}/engine/cli_test.cpp"
    LIBS polyglot_model_common simdjson::simdjson LABELS plugins)
  add_dependencies(engine_cli_test polyglot_cli polyglot_plugin_cpu)
endif()
if(TARGET polyglot_cpu_engine)
  polyglot_add_test(engine_generate_test SOURCES "${CMAKE_CURRENT_LIST_DIR}/engine/generate_test.cpp"
    LIBS polyglot_cpu_engine polyglot_model_common simdjson::simdjson LABELS plugins)
endif()
if(TARGET polyglot_model_runtime)
  polyglot_add_test(runtime_rules_test SOURCES "${CMAKE_CURRENT_LIST_DIR}/engine/runtime_rules_test.cpp"
    LIBS polyglot_model_runtime polyglot_model_common simdjson::simdjson LABELS plugins)
endif()
# Generation on the portable SSE2 kernels too, which a machine without AVX2 + FMA takes (the
# model tests run every path the CPU has themselves: tests/engine/cpu_runtime.hpp).
if(TARGET engine_generate_test)
  add_test(NAME engine_generate_test_sse2 COMMAND engine_generate_test WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(engine_generate_test_sse2 PROPERTIES LABELS plugins ENVIRONMENT POLYGLOT_CPU_ISA=sse2)
endif()
if(TARGET polyglot_model_common)
  # Ids, decoding and stream decoding against HF's Rust `tokenizers` (tests/oracles/).
  polyglot_add_test(engine_hf_tokenizer_oracle_test
    SOURCES "${CMAKE_CURRENT_LIST_DIR}/engine/hf_tokenizer_oracle_test.cpp"
    LIBS polyglot_model_common simdjson::simdjson ICU::uc LABELS plugins)
endif()
if(TARGET polyglot_model_runtime)
  # The self-test's reference forward pass against HF transformers (fixtures' expected.json).
  polyglot_add_test(engine_reference_test SOURCES "${CMAKE_CURRENT_LIST_DIR}/engine/reference_test.cpp"
    LIBS polyglot_model_runtime polyglot_model_common simdjson::simdjson LABELS plugins)
endif()
if(TARGET polyglot_model_runtime AND TARGET polyglot_cpu_engine)
  # The known-answer self-test: the cpu engine passes it, spoiled devices fail it.
  polyglot_add_test(engine_self_test_test SOURCES "${CMAKE_CURRENT_LIST_DIR}/engine/self_test_test.cpp"
    LIBS polyglot_cpu_engine polyglot_model_runtime polyglot_model_common simdjson::simdjson
    LABELS plugins)
endif()

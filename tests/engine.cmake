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
if(TARGET polyglot_model_common)
  # Ids, decoding and stream decoding against HF's Rust `tokenizers` (tests/oracles/).
  polyglot_add_test(engine_hf_tokenizer_oracle_test
    SOURCES "${CMAKE_CURRENT_LIST_DIR}/engine/hf_tokenizer_oracle_test.cpp"
    LIBS polyglot_model_common simdjson::simdjson ICU::uc LABELS plugins)
endif()

# Engine tests (issue 5): link the model loaders and the cpu engine statically.
if(TARGET polyglot_model_common)
  polyglot_add_test(engine_tokenizer_test SOURCES "${CMAKE_CURRENT_LIST_DIR}/engine/tokenizer_test.cpp"
    LIBS polyglot_model_common simdjson::simdjson LABELS plugins)
endif()

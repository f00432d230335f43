# Constrained decoding, the rubric judge and synthesis (issue 12).
if(TARGET polyglot_model_common)
  polyglot_add_test(constrained_test SOURCES "${CMAKE_CURRENT_LIST_DIR}/constrained/constrained_test.cpp"
    LIBS polyglot_model_common simdjson::simdjson LABELS plugins)
endif()
if(TARGET polyglot_model_common AND TARGET polyglot_plugin_cpu)
  polyglot_add_test(constrained_generate_test
    SOURCES "${CMAKE_CURRENT_LIST_DIR}/constrained/constrained_generate_test.cpp"
    LIBS polyglot_model_common simdjson::simdjson LABELS plugins)
  add_dependencies(constrained_generate_test polyglot_plugin_cpu)
endif()
if(TARGET polyglot_plugin_cpu AND TARGET polyglot_cli)
  polyglot_add_test(local_cli_test SOURCES "${CMAKE_CURRENT_LIST_DIR}/judge/local_cli_test.cpp"
    LABELS plugins)
  add_dependencies(local_cli_test polyglot_plugin_cpu polyglot_cli)
endif()
if(TARGET polyglot_plugin_remote AND TARGET polyglot_cli)
  polyglot_add_test(remote_judge_test SOURCES "${CMAKE_CURRENT_LIST_DIR}/judge/remote_judge_test.cpp"
    LABELS "plugins;remote")
  target_include_directories(remote_judge_test PRIVATE "${CMAKE_CURRENT_LIST_DIR}/remote")
  add_dependencies(remote_judge_test polyglot_plugin_remote polyglot_cli)
  set_tests_properties(remote_judge_test PROPERTIES TIMEOUT 600)
endif()

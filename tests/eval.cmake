# polyglot eval tests that run real models (issue 13): the cpu plugin and the CLI first.
foreach(t IN ITEMS eval_model_test eval_e2e_test)
  if(TARGET ${t})
    add_dependencies(${t} polyglot_cli polyglot_plugin_cpu)
  endif()
endforeach()

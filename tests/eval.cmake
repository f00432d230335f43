# polyglot eval tests that run real models (issue 13): the cpu plugin and the CLI first; the
# end-to-end test also serves a model and evaluates it through the remote plugin.
foreach(t IN ITEMS eval_model_test eval_e2e_test)
  if(TARGET ${t})
    add_dependencies(${t} polyglot_cli polyglot_plugin_cpu)
  endif()
endforeach()
if(TARGET eval_e2e_test AND TARGET polyglot_plugin_remote)
  add_dependencies(eval_e2e_test polyglot_plugin_remote)
endif()

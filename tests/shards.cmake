# Shards, merge, resume and compressed inputs through the CLI (issue 14): the CLI and the cpu
# plugin (fixture models) must be built first.
if(TARGET shard_cli_test)
  add_dependencies(shard_cli_test polyglot_cli)
  if(TARGET polyglot_plugin_cpu)
    add_dependencies(shard_cli_test polyglot_plugin_cpu)
  endif()
  set_tests_properties(shard_cli_test PROPERTIES TIMEOUT 600)
endif()

# Shards, merge, resume and compressed inputs through the CLI (issue 14): the CLI and the cpu
# plugin (fixture models) must be built first.
if(TARGET shard_cli_test)
  add_dependencies(shard_cli_test polyglot_cli)
  if(TARGET polyglot_plugin_cpu)
    add_dependencies(shard_cli_test polyglot_plugin_cpu)
  endif()
  set_tests_properties(shard_cli_test PROPERTIES TIMEOUT 600)
endif()

# With -DPOLYGLOT_MPI=ON: one run vs 8 shards merged vs `mpirun -n 4` on the bundled teacher
# files, model-free metrics and perplexity/distinct-RI with the fixture models (about a
# minute; not in the default CI build, which is built without MPI).
if(POLYGLOT_MPI AND TARGET polyglot_cli)
  set(_identity "${PROJECT_SOURCE_DIR}/benchmarks/shard_identity.sh")
  set(_env "BUILD=${PROJECT_BINARY_DIR} MPI_BUILD=${PROJECT_BINARY_DIR} REQUIRE_MPI=1")
  add_test(NAME mpi_identity_model_free
    COMMAND bash -c "${_env} ${_identity} examples/sft/*.jsonl"
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME mpi_identity_models
    COMMAND bash -c "${_env} OPTS='--backend cpu --metrics length,distinct_ri,perplexity --lm ../shared/fixtures/models/tiny-llama --embedder ../shared/fixtures/models/tiny-embeddinggemma' ${_identity} examples/sft/*.jsonl"
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(mpi_identity_model_free mpi_identity_models PROPERTIES
    LABELS "mpi" TIMEOUT 600)
endif()

# The cpu kernels (plugins/common/cpu_kernels) on every instruction-set path the CPU runs.
if(TARGET polyglot_cpu_kernels)
  polyglot_add_test(cpu_kernels_test SOURCES "${CMAKE_CURRENT_LIST_DIR}/engine/cpu_kernels_test.cpp"
    LIBS polyglot_cpu_kernels polyglot_model_common simdjson::simdjson LABELS plugins)
endif()

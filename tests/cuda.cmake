# The cuda plugin's tests (tests/cuda/cuda_plugin_test.cpp): one Boost.Test executable, two
# CTest entries, so that `ctest -LE gpu` leaves out everything that needs a GPU:
#   cuda_plugin_test      --run_test=!@gpu  CPU-side checks (LABELS plugins), run everywhere
#   cuda_plugin_gpu_test  --run_test=@gpu   GPU parity (LABELS gpu); skips cleanly (Boost.Test
#                                           precondition) where the plugin reports no device
# Built whatever POLYGLOT_CUDA says: without the plugin the plugin checks skip with a message and
# the index-math checks (plugins/cuda/plan.hpp, header-only) still run.
set(_cuda_test_src "${CMAKE_CURRENT_LIST_DIR}/cuda/cuda_plugin_test.cpp")
if(EXISTS "${_cuda_test_src}")
  add_executable(cuda_plugin_test "${_cuda_test_src}")
  # polyglot_model_runtime: the reference forward pass and the known-answer models (the
  # oracle of the attention-mask checks).
  target_link_libraries(cuda_plugin_test PRIVATE polyglot::polyglot Boost::unit_test_framework
                        simdjson::simdjson polyglot_model_runtime polyglot_internal_flags)
  target_include_directories(cuda_plugin_test PRIVATE "${PROJECT_SOURCE_DIR}/plugins/cuda"
                             "${PROJECT_SOURCE_DIR}/plugins" "${PROJECT_SOURCE_DIR}/tests")
  target_compile_definitions(cuda_plugin_test PRIVATE BOOST_TEST_DYN_LINK
    BOOST_TEST_MODULE=cuda_plugin POLYGLOT_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  if(TARGET polyglot_plugin_cuda)
    target_compile_definitions(cuda_plugin_test PRIVATE
      POLYGLOT_TEST_CUDA_PLUGIN="$<TARGET_FILE:polyglot_plugin_cuda>")
    add_dependencies(cuda_plugin_test polyglot_plugin_cuda)
  endif()
  foreach(_dep polyglot_plugin_cpu polyglot_cli)
    if(TARGET ${_dep})
      add_dependencies(cuda_plugin_test ${_dep})
    endif()
  endforeach()
  set(_cuda_test_env "POLYGLOT_PLUGIN_PATH=${PROJECT_BINARY_DIR}/plugins")
  if(TARGET polyglot_cli)
    list(APPEND _cuda_test_env "POLYGLOT_CLI=$<TARGET_FILE:polyglot_cli>")
  endif()
  add_test(NAME cuda_plugin_test COMMAND cuda_plugin_test "--run_test=!@gpu"
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(cuda_plugin_test PROPERTIES LABELS plugins ENVIRONMENT "${_cuda_test_env}")
  add_test(NAME cuda_plugin_gpu_test COMMAND cuda_plugin_test "--run_test=@gpu"
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(cuda_plugin_gpu_test PROPERTIES LABELS gpu ENVIRONMENT "${_cuda_test_env}")
endif()

# Plugin tests (issue 4): bad plugins built on purpose, the tiny fastText model is trained inside
# the tests, and the install-tree consumer test.

# polyglot_add_test_plugin(NAME SUBDIR SOURCES ...): a MODULE named libpolyglot-<NAME>.so in
# <build>/test-plugins/<SUBDIR>/ (never on the default search path), hidden visibility.
function(polyglot_add_test_plugin name subdir)
  set(target polyglot_test_plugin_${name})
  add_library(${target} MODULE ${ARGN})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME "polyglot-${name}" PREFIX "lib"
    LIBRARY_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}/test-plugins/${subdir}"
    C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF
    C_VISIBILITY_PRESET hidden CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(${target} PRIVATE polyglot::plugin_api)
  if(name MATCHES "^(failing|throwing|unusable|picky|selftest_bad|selftest_good)$")
    target_link_libraries(${target} PRIVATE polyglot_internal_flags)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -pedantic)
  endif()
  set_property(GLOBAL APPEND PROPERTY POLYGLOT_TEST_PLUGINS ${target})
endfunction()

set(_bad "${CMAKE_CURRENT_LIST_DIR}/plugins/bad")
polyglot_add_test_plugin(badabi bad "${_bad}/wrong_abi.c")
polyglot_add_test_plugin(notplugin bad "${_bad}/not_a_plugin.c")
polyglot_add_test_plugin(nullentry bad "${_bad}/null_entry.c")
polyglot_add_test_plugin(undefsym bad "${_bad}/undefined_symbol.c")
polyglot_add_test_plugin(failing bad "${_bad}/failing.cpp")
polyglot_add_test_plugin(throwing bad "${_bad}/throwing.cpp")
polyglot_add_test_plugin(unusable bad "${_bad}/unusable.cpp")
polyglot_add_test_plugin(picky auto "${_bad}/picky.cpp")
# The known-answer self-test wiring (plugins/common/runtime/self_test.hpp) in a plugin preferred
# over cpu: one that fails its self-test (auto must pass it over) and one that passes it.
if(TARGET polyglot_model_runtime)
  polyglot_add_test_plugin(selftest_bad selftest "${_bad}/self_test.cpp")
  polyglot_add_test_plugin(selftest_good selftest_good "${_bad}/self_test.cpp")
  foreach(_t selftest_bad selftest_good)
    target_link_libraries(polyglot_test_plugin_${_t} PRIVATE polyglot_model_runtime)
  endforeach()
  target_compile_definitions(polyglot_test_plugin_selftest_bad PRIVATE POLYGLOT_TEST_SPOIL)
endif()
# Not a shared library at all, but named like a plugin.
file(MAKE_DIRECTORY "${PROJECT_BINARY_DIR}/test-plugins/bad")
file(WRITE "${PROJECT_BINARY_DIR}/test-plugins/bad/libpolyglot-garbage.so"
     "this is a text file, not an ELF shared object\n")
get_property(_test_plugins GLOBAL PROPERTY POLYGLOT_TEST_PLUGINS)

# Every plugin test needs the real plugins, the bad ones and the CLI built first.
foreach(t IN ITEMS abi_layout_test registry_test bad_plugin_test cpu_plugin_test
                   distinct_ri_cli_test lm_ops_test abi_bounds_test)
  if(TARGET ${t})
    if(TARGET polyglot_plugin_cpu)
      add_dependencies(${t} polyglot_plugin_cpu)
    endif()
    if(TARGET polyglot_cli)
      add_dependencies(${t} polyglot_cli)
    endif()
    add_dependencies(${t} ${_test_plugins})
  endif()
endforeach()
# Tests that check plugin output against fastText itself.
foreach(t IN ITEMS registry_test bad_plugin_test cpu_plugin_test distinct_ri_cli_test)
  if(TARGET ${t})
    target_link_libraries(${t} PRIVATE FastText::fasttext)
  endif()
endforeach()

# Install-tree consumer: install this build to a temporary prefix, then configure, build and
# run tests/install (find_package(polyglot), loads the cpu plugin through the installed host).
if(POLYGLOT_INSTALL AND TARGET polyglot_plugin_cpu)
  add_test(NAME install_consumer_test
    COMMAND ${CMAKE_COMMAND}
      -DBUILD_DIR=${PROJECT_BINARY_DIR}
      -DSOURCE_DIR=${CMAKE_CURRENT_LIST_DIR}/install
      -DWORK_DIR=${PROJECT_BINARY_DIR}/install-test
      -DGENERATOR=${CMAKE_GENERATOR}
      -DCXX=${CMAKE_CXX_COMPILER}
      -P ${CMAKE_CURRENT_LIST_DIR}/install/run.cmake)
  set_tests_properties(install_consumer_test PROPERTIES LABELS "install;plugins" TIMEOUT 300)
endif()
if(TARGET registry_test)
  target_compile_definitions(registry_test PRIVATE
    POLYGLOT_PLUGIN_TEST_INSTALL_DIR="${POLYGLOT_PLUGIN_DIR}")
  # Sanitizer builds: without intercept_tls_get_addr=0, LeakSanitizer's tracer crashes
  # ("Tracer caught signal 11") at the exit of the `polyglot backends` child that loads the
  # self-test test plugins. The runtime's __tls_get_addr interceptor (GCC < 14, LLVM < 17) takes
  # a dynamic TLS block whose address is 16 mod 4096 for a glibc 2.19 one and reads a bogus range
  # before it (google/sanitizers#1322); not intercepting keeps the leak check on.
  if(POLYGLOT_SANITIZE)
    set_property(TEST registry_test APPEND PROPERTY ENVIRONMENT
      "ASAN_OPTIONS=intercept_tls_get_addr=0:abort_on_error=1:strict_string_checks=1")
  endif()
endif()
# The language-model operations test reads the fixtures' expected.json.
if(TARGET lm_ops_test)
  target_link_libraries(lm_ops_test PRIVATE simdjson::simdjson)
endif()

# fastText vectors and distinct-RI against the fastText CLI itself (Debian package fasttext):
# tests/oracles/fasttext_vectors.py trains its models with the CLI and compares.
if(TARGET polyglot_plugin_cpu AND TARGET polyglot_cli)
  add_test(NAME fasttext_cli_oracle_test
    COMMAND /usr/bin/python3 "${CMAKE_CURRENT_LIST_DIR}/oracles/fasttext_vectors.py"
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(fasttext_cli_oracle_test PROPERTIES LABELS "plugins;oracle" ENVIRONMENT
    "POLYGLOT_PLUGIN_PATH=${PROJECT_BINARY_DIR}/plugins;POLYGLOT_CLI=$<TARGET_FILE:polyglot_cli>")
endif()

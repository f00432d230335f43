# Helper functions shared by every CMakeLists in the tree.

# Warnings and sanitizers for our own targets only (never globals, never third-party code).
add_library(polyglot_internal_flags INTERFACE)
target_compile_options(polyglot_internal_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra>
  # GCC 12's -Wrestrict misfires inside libstdc++'s std::string operator+ (GCC bug 105329).
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>:-Wno-restrict>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${POLYGLOT_PEDANTIC}>>:-Wpedantic -Wshadow -Wconversion>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${POLYGLOT_WERROR}>>:-Werror>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${POLYGLOT_NATIVE}>>:-march=native>)
if(POLYGLOT_SANITIZE)
  string(REPLACE ";" "," _san "${POLYGLOT_SANITIZE}")
  target_compile_options(polyglot_internal_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${_san} -fno-omit-frame-pointer -fno-sanitize-recover=undefined>)
  target_link_options(polyglot_internal_flags INTERFACE -fsanitize=${_san})
endif()
if(POLYGLOT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "POLYGLOT_FUZZ needs clang (libFuzzer): configure with "
                        "CC=clang-14 CXX=clang++-14, as scripts/fuzz does")
  endif()
  # Coverage instrumentation for libFuzzer in everything of ours; the fuzz executables link the
  # fuzzer runtime itself (tests/fuzz/CMakeLists.txt).
  target_compile_options(polyglot_internal_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=fuzzer-no-link>)
endif()

# polyglot_add_test(NAME SOURCES a.cpp ... [LIBS ...] [LABELS unit ...])
# One Boost.Test executable registered with CTest; the working directory is the
# project root so tests can read ../shared/... and tests/data/... by relative path.
function(polyglot_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE polyglot::polyglot Boost::unit_test_framework
                        polyglot_internal_flags ${ARG_LIBS})
  target_compile_definitions(${name} PRIVATE BOOST_TEST_DYN_LINK
    POLYGLOT_SOURCE_DIR="${PROJECT_SOURCE_DIR}" POLYGLOT_BINARY_DIR="${PROJECT_BINARY_DIR}")
  # tests/support/: helpers every test shares (require_asset.hpp: the missing-asset policy).
  target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/tests")
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}"
    ENVIRONMENT "POLYGLOT_PLUGIN_PATH=${PROJECT_BINARY_DIR}/plugins;POLYGLOT_CLI=$<TARGET_FILE:polyglot_cli>")
endfunction()

# polyglot_add_benchmark(NAME SOURCES ... [LIBS ...]): Google Benchmark program, always -O3.
function(polyglot_add_benchmark name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE polyglot::polyglot benchmark::benchmark ${ARG_LIBS})
  target_compile_options(${name} PRIVATE -O3)
  target_compile_definitions(${name} PRIVATE NDEBUG POLYGLOT_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
endfunction()

# polyglot_add_plugin(NAME SOURCES ... [LIBS ...]): a MODULE library named polyglot-<name>,
# hidden visibility, placed in <build>/plugins and installed to POLYGLOT_PLUGIN_DIR.
function(polyglot_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  set(target polyglot_plugin_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME "polyglot-${name}" PREFIX "lib"
    LIBRARY_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}/plugins"
    CXX_VISIBILITY_PRESET hidden CUDA_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(${target} PRIVATE polyglot::plugin_api polyglot_internal_flags ${ARG_LIBS})
  if(POLYGLOT_INSTALL)
    # Relative to the prefix when POLYGLOT_PLUGIN_DIR lies under it, so that
    # `cmake --install --prefix P` relocates plugins with the library (the host also looks in
    # <libdir>/polyglot/plugins next to libpolyglot).
    set(_dest "${POLYGLOT_PLUGIN_DIR}")
    file(RELATIVE_PATH _rel "${CMAKE_INSTALL_PREFIX}" "${POLYGLOT_PLUGIN_DIR}")
    if(NOT _rel MATCHES "^\\.\\.")
      set(_dest "${_rel}")
    endif()
    install(TARGETS ${target} LIBRARY DESTINATION "${_dest}")
  endif()
endfunction()

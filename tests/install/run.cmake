# Installs the build tree BUILD_DIR to WORK_DIR/prefix, then configures, builds and runs the
# consumer in SOURCE_DIR against it. Invoked by CTest (install_consumer_test).
foreach(v BUILD_DIR SOURCE_DIR WORK_DIR GENERATOR CXX)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run.cmake: ${v} is not set")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: ${what} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ok\n${out}")
endfunction()

step("cmake --install" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
if(NOT EXISTS "${prefix}/lib/polyglot/plugins/libpolyglot-cpu.so"
   AND NOT EXISTS "${prefix}/lib64/polyglot/plugins/libpolyglot-cpu.so")
  file(GLOB_RECURSE found "${prefix}/*libpolyglot-cpu.so")
  message(FATAL_ERROR "install test: the cpu plugin was not installed under ${prefix} "
                      "(found: ${found})")
endif()
step("configure consumer" ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK_DIR}/build"
     -G "${GENERATOR}" -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Release
     "-DCMAKE_PREFIX_PATH=${prefix}")
step("build consumer" ${CMAKE_COMMAND} --build "${WORK_DIR}/build")
step("run consumer" ${CMAKE_COMMAND} -E env --unset=POLYGLOT_PLUGIN_PATH
     "${WORK_DIR}/build/consumer" "${prefix}")
file(REMOVE_RECURSE "${WORK_DIR}")

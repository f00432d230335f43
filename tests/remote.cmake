# Remote backend tests (issue 10): wire formats without a network (links the plugin's core
# statically), the plugin against scripted servers (tests/remote/fake_server.py, Python aiohttp),
# and end-to-end CLI runs (faults, kill -9 resume, secrets, polyglot serve).
if(TARGET polyglot_remote_core)
  polyglot_add_test(remote_dialect_test
    SOURCES "${CMAKE_CURRENT_LIST_DIR}/remote/remote_dialect_test.cpp"
    LIBS polyglot_remote_core LABELS "unit;remote")
  target_include_directories(remote_dialect_test PRIVATE "${CMAKE_CURRENT_LIST_DIR}/remote")
  file(GLOB _remote_tests CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/remote/*_test.cpp")
  foreach(src IN LISTS _remote_tests)
    get_filename_component(name "${src}" NAME_WE)
    if(name STREQUAL "remote_dialect_test")
      continue()
    endif()
    polyglot_add_test(${name} SOURCES "${src}" LIBS polyglot_remote_core LABELS "plugins;remote")
    target_include_directories(${name} PRIVATE "${CMAKE_CURRENT_LIST_DIR}/remote")
    add_dependencies(${name} polyglot_plugin_remote)
    if(TARGET polyglot_cli)
      add_dependencies(${name} polyglot_cli)
    endif()
    if(TARGET polyglot_plugin_cpu)
      add_dependencies(${name} polyglot_plugin_cpu)
    endif()
    set_tests_properties(${name} PROPERTIES TIMEOUT 600)
  endforeach()
endif()

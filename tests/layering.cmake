# The layering check (tests/layering/check_layering.py): no include and no link points upward
# (src/base <- src/<area> <- tools; src/base <- plugins). The link graph of every target defined
# under src/ is written here, at configure time, when every target exists: one line
# "TARGET<TAB>DIR<TAB>DEP<TAB>DEP_DIR" per dependency that is itself a target of this project
# (imported targets, the Debian libraries, are left out).
function(_polyglot_collect_targets dir out)
  get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    _polyglot_collect_targets("${sub}" sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

_polyglot_collect_targets("${PROJECT_SOURCE_DIR}/src" _layering_targets)
set(_layering_graph "")
foreach(t IN LISTS _layering_targets)
  get_target_property(t_dir ${t} SOURCE_DIR)
  set(deps "")
  foreach(prop LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
    get_target_property(v ${t} ${prop})
    if(v)
      list(APPEND deps ${v})
    endif()
  endforeach()
  foreach(d IN LISTS deps)
    # $<LINK_ONLY:x> and similar wrappers: keep the name inside.
    string(REGEX REPLACE "^\\$<[A-Za-z_]+:(.*)>$" "\\1" d "${d}")
    if(TARGET "${d}")
      get_target_property(imported "${d}" IMPORTED)
      if(imported)
        continue()
      endif()
      get_target_property(real "${d}" ALIASED_TARGET)
      if(real)
        set(d "${real}")
      endif()
      get_target_property(d_dir "${d}" SOURCE_DIR)
      string(APPEND _layering_graph "${t}\t${t_dir}\t${d}\t${d_dir}\n")
    endif()
  endforeach()
endforeach()
file(WRITE "${PROJECT_BINARY_DIR}/layering/link_graph.tsv" "${_layering_graph}")

add_test(NAME layering_test
  COMMAND /usr/bin/python3 "${CMAKE_CURRENT_LIST_DIR}/layering/check_layering.py"
          "${PROJECT_SOURCE_DIR}" "${PROJECT_BINARY_DIR}/layering/link_graph.tsv"
          "$<TARGET_FILE:polyglot_base>")
set_tests_properties(layering_test PROPERTIES LABELS unit)

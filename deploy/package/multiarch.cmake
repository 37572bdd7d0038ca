# SPDX-License-Identifier: MIT
# CPack post-build script (CPACK_POST_BUILD_SCRIPTS): writes the Multi-Arch
# field CPack 3.25 has no variable for into the packages it just made.
#   libinventoryN, libinventory-dev  Multi-Arch: same (their arch-specific
#                                    files are in /usr/lib/<multiarch>; the
#                                    rest, header, .proto, docs and the
#                                    gzip -9n changelog, is the same bytes
#                                    on every architecture)
#   inventory-tools                  Multi-Arch: foreign (programs whose
#                                    interface does not depend on the
#                                    architecture)
# inventoryd gets none: nothing depends on it across architectures.
# Each .deb is unpacked with dpkg-deb -R, its DEBIAN/control gets the line
# at its end, and it is built again with dpkg-deb
# (--root-owner-group: root:root files whoever builds).
foreach(_deb IN LISTS CPACK_PACKAGE_FILES)
  get_filename_component(_name "${_deb}" NAME)
  if(_name MATCHES "^libinventory[0-9]+_" OR _name MATCHES "^libinventory-dev_")
    set(_ma same)
  elseif(_name MATCHES "^inventory-tools_")
    set(_ma foreign)
  else()
    continue()
  endif()
  set(_dir "${_deb}.multiarch")
  file(REMOVE_RECURSE "${_dir}")
  execute_process(COMMAND dpkg-deb -R "${_deb}" "${_dir}"
    RESULT_VARIABLE _rv ERROR_VARIABLE _err)
  if(NOT _rv EQUAL 0)
    message(FATAL_ERROR "multiarch.cmake: dpkg-deb -R ${_name}: ${_err}")
  endif()
  file(READ "${_dir}/DEBIAN/control" _control)
  if(_control MATCHES "(^|\n)Multi-Arch:")
    message(FATAL_ERROR "multiarch.cmake: ${_name} has a Multi-Arch field already (CPack grew one? use it instead)")
  endif()
  string(STRIP "${_control}" _control)
  file(WRITE "${_dir}/DEBIAN/control" "${_control}\nMulti-Arch: ${_ma}\n")
  execute_process(COMMAND dpkg-deb --root-owner-group -Zxz --build
      "${_dir}" "${_deb}"
    RESULT_VARIABLE _rv OUTPUT_QUIET ERROR_VARIABLE _err)
  file(REMOVE_RECURSE "${_dir}")
  if(NOT _rv EQUAL 0)
    message(FATAL_ERROR "multiarch.cmake: dpkg-deb --build ${_name}: ${_err}")
  endif()
  message(STATUS "multiarch.cmake: ${_name}: Multi-Arch: ${_ma}")
endforeach()

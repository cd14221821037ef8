# find_package(runtel) support: the imported target runtel::runtel (the shared
# library) and runtel::runtel_static, located relative to this file so the
# installed prefix can be moved.
get_filename_component(_runtel_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET runtel::runtel)
  add_library(runtel::runtel SHARED IMPORTED)
  set_target_properties(runtel::runtel PROPERTIES
    IMPORTED_LOCATION "${_runtel_prefix}/lib/libruntel.so"
    IMPORTED_SONAME "libruntel.so.0"
    INTERFACE_INCLUDE_DIRECTORIES "${_runtel_prefix}/include")
endif()

if(NOT TARGET runtel::runtel_static AND EXISTS "${_runtel_prefix}/lib/libruntel.a")
  add_library(runtel::runtel_static STATIC IMPORTED)
  set_target_properties(runtel::runtel_static PROPERTIES
    IMPORTED_LOCATION "${_runtel_prefix}/lib/libruntel.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_runtel_prefix}/include"
    INTERFACE_LINK_LIBRARIES "pthread;dl;m;rt;util")
endif()

unset(_runtel_prefix)

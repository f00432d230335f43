# Debian's libfasttext-dev ships no CMake config: find the header and library by hand.
find_path(FastText_INCLUDE_DIR NAMES fasttext/fasttext.h)
find_library(FastText_LIBRARY NAMES fasttext)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(FastText REQUIRED_VARS FastText_LIBRARY FastText_INCLUDE_DIR)
if(FastText_FOUND AND NOT TARGET FastText::fasttext)
  add_library(FastText::fasttext UNKNOWN IMPORTED)
  set_target_properties(FastText::fasttext PROPERTIES
    IMPORTED_LOCATION "${FastText_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${FastText_INCLUDE_DIR}")
endif()
mark_as_advanced(FastText_INCLUDE_DIR FastText_LIBRARY)

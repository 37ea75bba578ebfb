# Options shared by every target of this project (not exported to users).
add_library(gasched_compile_options INTERFACE)
target_compile_options(gasched_compile_options INTERFACE -Wall -Wextra)
if(GASCHED_SANITIZE)
  # GCC 12's -Wmaybe-uninitialized misfires on libstdc++'s <regex> (used by
  # CLI11) once sanitizers instrument it; the sanitizers check that at run time.
  target_compile_options(gasched_compile_options INTERFACE
    -fsanitize=${GASCHED_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all
    -Wno-maybe-uninitialized)
  target_link_options(gasched_compile_options INTERFACE -fsanitize=${GASCHED_SANITIZE})
endif()

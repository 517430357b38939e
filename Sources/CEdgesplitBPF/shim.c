#include "edgesplit_bpf.h"

#ifndef EDGESPLIT_BPF_H
#define EDGESPLIT_BPF_H
#endif

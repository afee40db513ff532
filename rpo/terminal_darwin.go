package rpo

import "syscall"

const ioctlGetTermios = syscall.TIOCGETA

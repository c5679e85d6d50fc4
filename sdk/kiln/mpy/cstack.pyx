"""The calling thread's C stack, for ``micropython.stack_use`` and ``mem_info``.

glibc's ``pthread_getattr_np`` gives the thread's stack (for the main thread: the stack
mapping, sized by RLIMIT_STACK); the stack grows down on every architecture Kiln runs on
(ARM, AArch64, x86), so the bytes in use are the distance from its top to a local variable of
this call.
"""
from libc.stdint cimport uintptr_t

cdef extern from "<pthread.h>" nogil:
    ctypedef unsigned long pthread_t
    ctypedef struct pthread_attr_t:
        pass
    pthread_t pthread_self()
    int pthread_getattr_np(pthread_t thread, pthread_attr_t *attr)
    int pthread_attr_getstack(const pthread_attr_t *attr, void **stackaddr, size_t *stacksize)
    int pthread_attr_destroy(pthread_attr_t *attr)


cdef int _stack(uintptr_t *top, size_t *size) except -1:
    cdef pthread_attr_t attr
    cdef void *addr
    cdef int err = pthread_getattr_np(pthread_self(), &attr)
    if err != 0:
        raise OSError(err, "pthread_getattr_np failed")
    err = pthread_attr_getstack(&attr, &addr, size)
    pthread_attr_destroy(&attr)
    if err != 0:
        raise OSError(err, "pthread_attr_getstack failed")
    top[0] = <uintptr_t>addr + size[0]
    return 0


def used():
    """Bytes of the calling thread's C stack in use at this call (int)."""
    cdef uintptr_t top
    cdef size_t size
    cdef volatile char marker = 0
    _stack(&top, &size)
    return <Py_ssize_t>(top - <uintptr_t>&marker)


def size():
    """Size in bytes of the calling thread's C stack (int)."""
    cdef uintptr_t top
    cdef size_t size
    _stack(&top, &size)
    return size

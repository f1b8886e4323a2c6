// Chapter 08 serves files as chapter 07 does, with the pool in between when the disk would be
// read: every one of chapter 07's file tests again, against this chapter's binary.
#include "chapters/07-sendfile/test_sendfile.cpp"

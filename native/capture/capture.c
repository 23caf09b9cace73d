/*
 * ambient_capture: the few Linux socket operations in-pod capture needs and Node lacks
 * (src/capture/inpod/addon.ts is its only user; ARCHITECTURE.md, "In-pod capture").
 *
 * Every function that works in a pod's network namespace does setns(pod) -> socket operation ->
 * setns(back) inside this one synchronous C call, on the calling (JS main) thread, so no JavaScript
 * ever runs while the thread is in another namespace. A socket stays in the namespace it was
 * created in for its whole life, so the returned fds can be handed to net.Server / net.Socket /
 * dgram in the host namespace.
 *
 * All returned fds are non-blocking and close-on-exec. Failures throw an Error whose `code` is the
 * errno name (EPERM, ENOENT, EADDRINUSE, ...), with `syscall` (the failing call) and `errno`.
 *
 * Exports:
 *   listenTcp(netns, ip, port, backlog, transparent) -> fd
 *       A TCP listener in netns bound to ip:port (SO_REUSEADDR; IP_TRANSPARENT / IPV6_TRANSPARENT
 *       when `transparent`, which TPROXY needs). netns is a path (/run/netns/NAME) or "" for the
 *       caller's own namespace. Hand the fd to `server.listen({ fd })`.
 *   socketTcp(netns, family, mark, transparent, bindIp, bindPort) -> fd
 *       An unconnected TCP socket in netns (family 4 or 6) with SO_MARK = mark (0 = none);
 *       with `transparent`, IP_TRANSPARENT and a bind to bindIp:bindPort (any address, even one that
 *       is not local: the spoofed source of an inbound connection). bindIp "" = no bind.
 *       Connect it from JS: `new net.Socket({ fd }).connect(port, ip)`.
 *   socketUdp(netns, ip, port, mark) -> fd
 *       A UDP socket in netns bound to ip:port, SO_MARK = mark (0 = none). `dgram` bind({ fd }).
 *   originalDst(fd) -> { ip, port, family }
 *       The destination before REDIRECT (SO_ORIGINAL_DST, IPv4; IP6T_SO_ORIGINAL_DST, IPv6) of an
 *       accepted socket (`socket._handle.fd`).
 *   seqpacketConnect(path) -> fd
 *       A unix SOCK_SEQPACKET socket connected to path (blocking connect, then non-blocking).
 *   seqpacketSend(fd, data: Buffer, fds: number[]) -> bytes
 *       One message, with fds passed as SCM_RIGHTS (at most 16).
 *   seqpacketRecv(fd, maxBytes, timeoutMs) -> { data: Buffer, fds: number[] } | null
 *       Waits up to timeoutMs (-1 = forever) for one message; null on timeout; data of length 0 with
 *       no fds = the peer closed. Received fds are the caller's to close (close-on-exec set).
 *   interfaceAddresses(netns) -> string[]
 *       The IPv4 and IPv6 addresses of every interface in netns (getifaddrs inside it): how the node
 *       agent finds which namespace holds a pod's IP.
 *   close(fd) -> undefined
 *
 * `netns` is either a path (/run/netns/NAME, /proc/PID/ns/net; "" = the caller's own namespace) or
 * the number of an open fd of one (a namespace received over ZDS with SCM_RIGHTS; not closed here).
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif
#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif

#define MAX_FDS 16

static const char *errno_name(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENOTCONN: return "ENOTCONN";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case ENOTSOCK: return "ENOTSOCK";
    case EAGAIN: return "EAGAIN";
    case EMSGSIZE: return "EMSGSIZE";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ENOSYS: return "ENOSYS";
    case EPIPE: return "EPIPE";
    case ECONNRESET: return "ECONNRESET";
    default: return "EUNKNOWN";
  }
}

/* Throws an Error with code/syscall/errno; returns NULL for the caller to return. */
static napi_value throw_errno(napi_env env, const char *syscall, int e) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s failed: %s (%s)", syscall, strerror(e), errno_name(e));
  napi_value code, message, error, sc, num;
  napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  napi_create_int32(env, e, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG", msg);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) return -1;
  return 0;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t len) {
  size_t out;
  if (napi_get_value_string_utf8(env, v, buf, len, &out) != napi_ok) return -1;
  return out >= len - 1 ? -1 : 0;
}

static int get_int(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1;
}

static int get_uint(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

static int get_bool(napi_env env, napi_value v, bool *out) {
  return napi_get_value_bool(env, v, out) == napi_ok ? 0 : -1;
}

/* The namespace we come back to: the calling thread's at load time. */
static int home_ns = -1;

/* A network namespace argument: a path (/run/netns/NAME, /proc/PID/ns/net; "" = stay) or an open
 * fd of one (fd >= 0: the ZDS way, an fd received with SCM_RIGHTS; it stays the caller's). */
struct ns_arg {
  char path[512];
  int fd;
};

static int get_ns(napi_env env, napi_value v, struct ns_arg *ns) {
  napi_valuetype type;
  ns->path[0] = '\0';
  ns->fd = -1;
  if (napi_typeof(env, v, &type) != napi_ok) return -1;
  if (type == napi_number) return get_int(env, v, &ns->fd) || ns->fd < 0 ? -1 : 0;
  return get_string(env, v, ns->path, sizeof ns->path);
}

static int ns_is_home(const struct ns_arg *ns) {
  return ns->fd < 0 && ns->path[0] == '\0';
}

/* Enters netns. Returns 0, or -1 with *failed naming the syscall. */
static int enter_ns(const struct ns_arg *ns, const char **failed) {
  if (ns_is_home(ns)) return 0;
  if (home_ns < 0) {
    home_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home_ns < 0) { *failed = "open(/proc/thread-self/ns/net)"; return -1; }
  }
  int fd = ns->fd;
  if (fd < 0) {
    fd = open(ns->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { *failed = "open(netns)"; return -1; }
  }
  int rc = setns(fd, CLONE_NEWNET);
  int e = errno;
  if (ns->fd < 0) close(fd);
  errno = e;
  if (rc < 0) { *failed = "setns"; return -1; }
  return 0;
}

/* Back home. If this fails the thread is in the wrong namespace: nothing sane is left to do. */
static void leave_ns(const struct ns_arg *ns) {
  if (ns_is_home(ns)) return;
  if (setns(home_ns, CLONE_NEWNET) < 0) {
    fprintf(stderr, "ambient_capture: cannot return to the original network namespace: %s\n", strerror(errno));
    abort();
  }
}

static int parse_addr(const char *ip, uint32_t port, struct sockaddr_storage *ss, socklen_t *len, int *family) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    *len = sizeof *s4;
    *family = AF_INET;
    return 0;
  }
  if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    *len = sizeof *s6;
    *family = AF_INET6;
    return 0;
  }
  return -1;
}

static napi_value fd_value(napi_env env, int fd) {
  napi_value v;
  napi_create_int32(env, fd, &v);
  return v;
}

/* A plain object of n properties, names[i] = values[i]. */
static napi_value object_of(napi_env env, size_t n, const char *const names[], const napi_value values[]) {
  napi_value out;
  napi_create_object(env, &out);
  for (size_t i = 0; i < n; i++) napi_set_named_property(env, out, names[i], values[i]);
  return out;
}

static int set_transparent(int fd, int family) {
  int one = 1;
  if (family == AF_INET6) return setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof one);
  return setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one);
}

/* A socket made inside namespace `ns` (setns in, socket, options, setns back: one synchronous call),
   then, in this order: SO_REUSEADDR when asked, SO_MARK when non-zero, IP_TRANSPARENT when asked,
   bind when len > 0, listen when backlog > 0. The fd, or a thrown error naming the failed syscall. */
struct ns_socket_spec {
  int family, type;
  bool reuseaddr;
  uint32_t mark;
  bool transparent;
  const struct sockaddr_storage *addr;
  socklen_t len;
  int backlog;
};

static napi_value socket_in_ns(napi_env env, const struct ns_arg *ns, const struct ns_socket_spec *s) {
  const char *failed = NULL;
  if (enter_ns(ns, &failed)) return throw_errno(env, failed, errno);
  int e = 0, one = 1;
  int fd = socket(s->family, s->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) { e = errno; failed = "socket"; }
  else if (s->reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) { e = errno; failed = "setsockopt(SO_REUSEADDR)"; }
  else if (s->mark != 0 && setsockopt(fd, SOL_SOCKET, SO_MARK, &s->mark, sizeof s->mark) < 0) { e = errno; failed = "setsockopt(SO_MARK)"; }
  else if (s->transparent && set_transparent(fd, s->family) < 0) { e = errno; failed = "setsockopt(IP_TRANSPARENT)"; }
  else if (s->len > 0 && bind(fd, (const struct sockaddr *)s->addr, s->len) < 0) { e = errno; failed = "bind"; }
  else if (s->backlog > 0 && listen(fd, s->backlog) < 0) { e = errno; failed = "listen"; }
  leave_ns(ns);
  if (failed) { if (fd >= 0) close(fd); return throw_errno(env, failed, e); }
  return fd_value(env, fd);
}

/* listenTcp(netns, ip, port, backlog, transparent) */
static napi_value listen_tcp(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  struct ns_arg ns; char ip[64];
  uint32_t port; int32_t backlog; bool transparent;
  if (get_args(env, info, 5, argv) || get_ns(env, argv[0], &ns) || get_string(env, argv[1], ip, sizeof ip) ||
      get_uint(env, argv[2], &port) || get_int(env, argv[3], &backlog) || get_bool(env, argv[4], &transparent) || port > 65535)
    return throw_type(env, "listenTcp(netns: string, ip: string, port: number, backlog: number, transparent: boolean)");
  struct sockaddr_storage ss; socklen_t len; int family;
  if (parse_addr(ip, port, &ss, &len, &family)) return throw_type(env, "listenTcp: ip is not an IP address");
  struct ns_socket_spec spec = { family, SOCK_STREAM, true, 0, transparent, &ss, len, backlog > 0 ? backlog : 511 };
  return socket_in_ns(env, &ns, &spec);
}

/* socketTcp(netns, family, mark, transparent, bindIp, bindPort) */
static napi_value socket_tcp(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  struct ns_arg ns; char ip[64];
  int32_t fam; uint32_t mark, port; bool transparent;
  if (get_args(env, info, 6, argv) || get_ns(env, argv[0], &ns) || get_int(env, argv[1], &fam) ||
      get_uint(env, argv[2], &mark) || get_bool(env, argv[3], &transparent) || get_string(env, argv[4], ip, sizeof ip) ||
      get_uint(env, argv[5], &port) || (fam != 4 && fam != 6) || port > 65535)
    return throw_type(env, "socketTcp(netns: string, family: 4|6, mark: number, transparent: boolean, bindIp: string, bindPort: number)");
  int family = fam == 6 ? AF_INET6 : AF_INET;
  struct sockaddr_storage ss; socklen_t len = 0; int bind_family = family;
  if (ip[0] != '\0' && (parse_addr(ip, port, &ss, &len, &bind_family) || bind_family != family))
    return throw_type(env, "socketTcp: bindIp is not an IP address of the given family");
  struct ns_socket_spec spec = { family, SOCK_STREAM, false, mark, transparent, &ss, len, 0 };
  return socket_in_ns(env, &ns, &spec);
}

/* socketUdp(netns, ip, port, mark) */
static napi_value socket_udp(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  struct ns_arg ns; char ip[64];
  uint32_t port, mark;
  if (get_args(env, info, 4, argv) || get_ns(env, argv[0], &ns) || get_string(env, argv[1], ip, sizeof ip) ||
      get_uint(env, argv[2], &port) || get_uint(env, argv[3], &mark) || port > 65535)
    return throw_type(env, "socketUdp(netns: string, ip: string, port: number, mark: number)");
  struct sockaddr_storage ss; socklen_t len; int family;
  if (parse_addr(ip, port, &ss, &len, &family)) return throw_type(env, "socketUdp: ip is not an IP address");
  struct ns_socket_spec spec = { family, SOCK_DGRAM, false, mark, false, &ss, len, 0 };
  return socket_in_ns(env, &ns, &spec);
}

/* originalDst(fd) */
static napi_value original_dst(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (get_args(env, info, 1, argv) || get_int(env, argv[0], &fd)) return throw_type(env, "originalDst(fd: number)");
  struct sockaddr_storage local; socklen_t llen = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0) return throw_errno(env, "getsockname", errno);
  struct sockaddr_storage ss; socklen_t len = sizeof ss;
  memset(&ss, 0, sizeof ss);
  char text[INET6_ADDRSTRLEN];
  uint16_t port;
  int family;
  if (local.ss_family == AF_INET6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, s6, &len) == 0) {
      /* An IPv4 connection on a dual-stack listener has no IPv6 conntrack entry. */
    } else {
      struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
      len = sizeof *s4;
      if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, s4, &len) < 0) return throw_errno(env, "getsockopt(IP6T_SO_ORIGINAL_DST)", errno);
    }
  } else if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len) < 0) {
    return throw_errno(env, "getsockopt(SO_ORIGINAL_DST)", errno);
  }
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof text);
    port = ntohs(s6->sin6_port);
    family = 6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &s4->sin_addr, text, sizeof text);
    port = ntohs(s4->sin_port);
    family = 4;
  }
  napi_value vip, vport, vfam;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &vip);
  napi_create_uint32(env, port, &vport);
  napi_create_uint32(env, (uint32_t)family, &vfam);
  return object_of(env, 3, (const char *const[]){ "ip", "port", "family" }, (const napi_value[]){ vip, vport, vfam });
}

/* seqpacketConnect(path) */
static napi_value seqpacket_connect(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  if (get_args(env, info, 1, argv) || get_string(env, argv[0], sun.sun_path, sizeof sun.sun_path))
    return throw_type(env, "seqpacketConnect(path: string), path shorter than 108 bytes");
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "connect", e);
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "fcntl", e);
  }
  return fd_value(env, fd);
}

/* seqpacketSend(fd, data, fds) */
static napi_value seqpacket_send(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd; void *data; size_t length; uint32_t nfds; bool is_array;
  if (get_args(env, info, 3, argv) || get_int(env, argv[0], &fd) || napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok ||
      napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[2], &nfds) != napi_ok || nfds > MAX_FDS)
    return throw_type(env, "seqpacketSend(fd: number, data: Buffer, fds: number[] (at most 16))");
  int fds[MAX_FDS];
  for (uint32_t i = 0; i < nfds; i++) {
    napi_value el;
    if (napi_get_element(env, argv[2], i, &el) != napi_ok || get_int(env, el, &fds[i])) return throw_type(env, "seqpacketSend: fds must be integers");
  }
  struct iovec iov = { .iov_base = data, .iov_len = length };
  union { char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)]; struct cmsghdr align; } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
  if (nfds > 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  ssize_t n;
  for (;;) {
    n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n >= 0 || errno != EAGAIN) break;
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    if (poll(&p, 1, 5000) <= 0) { errno = EAGAIN; break; }
  }
  if (n < 0) return throw_errno(env, "sendmsg", errno);
  napi_value out;
  napi_create_int64(env, n, &out);
  return out;
}

/* seqpacketRecv(fd, maxBytes, timeoutMs) */
static napi_value seqpacket_recv(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, timeout; uint32_t max;
  if (get_args(env, info, 3, argv) || get_int(env, argv[0], &fd) || get_uint(env, argv[1], &max) || get_int(env, argv[2], &timeout) || max == 0 || max > (1u << 24))
    return throw_type(env, "seqpacketRecv(fd: number, maxBytes: 1..16 MiB, timeoutMs: number)");
  struct pollfd p = { .fd = fd, .events = POLLIN };
  int rc;
  do { rc = poll(&p, 1, timeout); } while (rc < 0 && errno == EINTR);
  if (rc < 0) return throw_errno(env, "poll", errno);
  napi_value out;
  if (rc == 0) { napi_get_null(env, &out); return out; }
  void *buf = malloc(max);
  if (buf == NULL) return throw_errno(env, "malloc", ENOMEM);
  struct iovec iov = { .iov_base = buf, .iov_len = max };
  union { char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)]; struct cmsghdr align; } control;
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
  ssize_t n;
  do { n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
  if (n < 0) { int e = errno; free(buf); return throw_errno(env, "recvmsg", e); }
  napi_value data, fds;
  napi_create_buffer_copy(env, (size_t)n, buf, NULL, &data);
  free(buf);
  napi_create_array(env, &fds);
  uint32_t count = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int *got = (int *)CMSG_DATA(c);
    for (size_t i = 0; i < k; i++) napi_set_element(env, fds, count++, fd_value(env, got[i]));
  }
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    for (uint32_t i = 0; i < count; i++) {
      napi_value el; int32_t f;
      if (napi_get_element(env, fds, i, &el) == napi_ok && get_int(env, el, &f) == 0) close(f);
    }
    return throw_errno(env, "recvmsg (message truncated)", EMSGSIZE);
  }
  return object_of(env, 2, (const char *const[]){ "data", "fds" }, (const napi_value[]){ data, fds });
}

/* interfaceAddresses(netns) */
static napi_value interface_addresses(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct ns_arg ns;
  if (get_args(env, info, 1, argv) || get_ns(env, argv[0], &ns)) return throw_type(env, "interfaceAddresses(netns: string | fd)");
  const char *failed = NULL;
  if (enter_ns(&ns, &failed)) return throw_errno(env, failed, errno);
  struct ifaddrs *list = NULL;
  int rc = getifaddrs(&list), e = errno;
  leave_ns(&ns);
  if (rc < 0) return throw_errno(env, "getifaddrs", e);
  napi_value out;
  napi_create_array(env, &out);
  uint32_t count = 0;
  for (struct ifaddrs *a = list; a != NULL; a = a->ifa_next) {
    if (a->ifa_addr == NULL) continue;
    char text[INET6_ADDRSTRLEN];
    if (a->ifa_addr->sa_family == AF_INET)
      inet_ntop(AF_INET, &((struct sockaddr_in *)a->ifa_addr)->sin_addr, text, sizeof text);
    else if (a->ifa_addr->sa_family == AF_INET6)
      inet_ntop(AF_INET6, &((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr, text, sizeof text);
    else
      continue;
    napi_value v;
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
    napi_set_element(env, out, count++, v);
  }
  freeifaddrs(list);
  return out;
}

/* close(fd) */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (get_args(env, info, 1, argv) || get_int(env, argv[0], &fd)) return throw_type(env, "close(fd: number)");
  if (close(fd) < 0) return throw_errno(env, "close", errno);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "listenTcp", NULL, listen_tcp, NULL, NULL, NULL, napi_enumerable, NULL },
    { "socketTcp", NULL, socket_tcp, NULL, NULL, NULL, napi_enumerable, NULL },
    { "socketUdp", NULL, socket_udp, NULL, NULL, NULL, napi_enumerable, NULL },
    { "originalDst", NULL, original_dst, NULL, NULL, NULL, napi_enumerable, NULL },
    { "seqpacketConnect", NULL, seqpacket_connect, NULL, NULL, NULL, napi_enumerable, NULL },
    { "seqpacketSend", NULL, seqpacket_send, NULL, NULL, NULL, napi_enumerable, NULL },
    { "seqpacketRecv", NULL, seqpacket_recv, NULL, NULL, NULL, napi_enumerable, NULL },
    { "interfaceAddresses", NULL, interface_addresses, NULL, NULL, NULL, napi_enumerable, NULL },
    { "close", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

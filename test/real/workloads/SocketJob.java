// A JVM program that holds sockets: a ServerSocket on 127.0.0.1 (port
// args[1], 0: the kernel's choice) served by a thread per connection, four client threads each
// on one connection for the whole run, and a client that connects anew for
// each request. Every reply is checked and summed; client 0 prints each
// reply, the others their sums at the end, so the output is the same each run.
import java.io.*;
import java.net.*;
import java.nio.charset.StandardCharsets;

public class SocketJob {
  static long answer(long n) { return n * n + 7 * n + 1; }

  static void serve(Socket s) {
    try (s; BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
         Writer out = new OutputStreamWriter(s.getOutputStream(), StandardCharsets.US_ASCII)) {
      for (String line; (line = in.readLine()) != null;) {
        out.write(answer(Long.parseLong(line)) + "\n");
        out.flush();
      }
    } catch (IOException e) {
      System.out.println("BROKEN server: " + e);
    }
  }

  static long ask(BufferedReader in, Writer out, long n) throws IOException {
    out.write(n + "\n");
    out.flush();
    String line = in.readLine();
    if (line == null || Long.parseLong(line) != answer(n)) throw new IOException("wrong answer to " + n + ": " + line);
    return Long.parseLong(line);
  }

  public static void main(String[] args) throws Exception {
    int rounds = Integer.parseInt(args[0]);
    ServerSocket server = new ServerSocket(args.length > 1 ? Integer.parseInt(args[1]) : 0, 50, InetAddress.getLoopbackAddress());
    Thread acceptor = new Thread(() -> {
      try {
        for (;;) { Socket s = server.accept(); new Thread(() -> serve(s)).start(); }
      } catch (IOException e) { /* closed at the end */ }
    });
    acceptor.setDaemon(true);
    acceptor.start();
    int port = server.getLocalPort();
    long[] sums = new long[5];
    Thread[] clients = new Thread[5];
    for (int c = 0; c < 5; c++) {
      final int id = c;
      clients[c] = new Thread(() -> {
        try {
          if (id == 4) {   /* a new connection per request */
            for (int i = 0; i < rounds / 4; i++) {
              try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                sums[id] += ask(new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)),
                                new OutputStreamWriter(s.getOutputStream(), StandardCharsets.US_ASCII), 1000 + i);
              }
              Thread.sleep(80);
            }
            return;
          }
          try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setTcpNoDelay(true);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
            Writer out = new OutputStreamWriter(s.getOutputStream(), StandardCharsets.US_ASCII);
            for (int i = 0; i < rounds; i++) {
              long a = ask(in, out, id * 100000L + i);
              sums[id] += a;
              if (id == 0) System.out.println("reply " + i + " " + a);
              Thread.sleep(20);
            }
          }
        } catch (Exception e) {
          System.out.println("BROKEN client " + id + ": " + e);
        }
      });
      clients[c].start();
    }
    for (Thread t : clients) t.join();
    server.close();
    for (int c = 0; c < 5; c++) System.out.println("client " + c + " sum " + sums[c]);
    System.out.println("done");
  }
}

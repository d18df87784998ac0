#include "exec/executor.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "exec/write_queue.h"
#include "os/deferred_drops.h"
#include "os/page_hints.h"
#include "tensor/convert.h"
#include "util/error.h"

namespace alloy {

void write_fully(int fd, const void* data, uint64_t size, uint64_t offset, const std::string& what) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::pwrite(fd, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(what, ": write failed: ", std::strerror(errno));
    }
    if (n == 0) fail(what, ": write made no progress");
    p += n;
    size -= static_cast<uint64_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

namespace {

struct Block {
  size_t job;
  int64_t row_begin, row_end;
};

// Shared state of one run: a queue of jobs not yet prepared, and a queue of blocks of prepared
// jobs. Workers prefer blocks (finishing tensors that are under way) over starting new jobs.
class Run {
 public:
  Run(const MergePlan& plan, const OutputLayout& layout, const std::vector<int>& fds, const ExecOptions& opt)
      : plan_(plan), layout_(layout), fds_(fds), opt_(opt), kernels_(plan.jobs.size()),
        pending_(plan.jobs.size()), uncomputed_(plan.jobs.size()), order_(plan.jobs.size()) {
    // Largest tensors first (embeddings, lm_head, ...), the rest in plan order: a large tensor
    // whose whole-tensor passes run on one thread must not be the last job, with the other
    // threads idle. Output bytes do not depend on the order.
    for (size_t j = 0; j < order_.size(); ++j) order_[j] = j;
    auto cost = [&](size_t j) { return plan_.jobs[j].call.numel() * static_cast<int64_t>(plan_.jobs[j].call.size()); };
    std::stable_sort(order_.begin(), order_.end(), [&](size_t a, size_t b) { return cost(a) > cost(b); });
    if (opt_.drop_input_pages) {
      size_t inputs = 1;
      for (const auto& job : plan_.jobs) inputs = std::max(inputs, job.call.inputs.size());
      drops_ = std::make_unique<DeferredDrops>(opt_.drop_lag_per_input * inputs);
      for_each_input_shard([&](const SafetensorsFile& shard) {
        drops_->expect_file(shard.mapping().fd(), shard.data_start(), shard.mapping().size());
      });
      // Tensors read by several jobs (a frankenmerge's repeated layers) go only at the end.
      std::set<const std::byte*> seen;
      for (const auto& job : plan_.jobs)
        for (const auto& in : job.call.inputs)
          if (in.view.file_mapped && !seen.insert(in.view.data).second) shared_views_.insert(in.view.data);
    }
  }

  ExecStats go() {
    auto start = std::chrono::steady_clock::now();
    int n = std::max(1, opt_.threads);
    if (opt_.writer_thread)
      writer_ = std::make_unique<WriteQueue>(kWriteQueueBytes, [this](std::exception_ptr e) { record(e); },
                                             opt_.early_write_back ? opt_.write_back_bytes : 0,
                                             opt_.flush_every_bytes, opt_.drop_output_pages);
    std::vector<std::thread> threads;
    for (int i = 1; i < n; ++i) threads.emplace_back([this] { work(); });
    work();
    for (auto& t : threads) t.join();
    ExecStats s;
    if (writer_) {
      if (stopping())
        writer_->abandon();
      else
        writer_->finish();
      s.hand_overs = writer_->hand_overs();
      s.flushes = writer_->flushes();
    }
    if (drops_) {  // after the writer, which releases the inputs of byte copies
      drops_->drop_all();
      drop_inputs_left_cached();
    }
    if (error_) std::rethrow_exception(error_);
    if (opt_.cancel && opt_.cancel->load()) fail("interrupted");
    s.bytes_written = written_.load();
    s.bytes_read = plan_.input_bytes;
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return s;
  }

 private:
  struct Scratch {
    std::vector<std::vector<float>> inputs;
    std::vector<const float*> pointers;
    std::vector<float> out;
    std::vector<unsigned char> bytes;
  };

  // Each tensor dropped its own pages (and the folios it shares with tensors dropped too), but
  // the page cache drops no page that is mapped: a fault maps up to 64 KB of cached pages around
  // itself, of the tensors beside it too; a folio shared with bytes no job drops (a tensor read by
  // several jobs, which is not dropped before, or by none) stays. So at the end, each input file
  // is unmapped and dropped whole.
  void drop_inputs_left_cached() const {
    std::set<int> read;  // descriptors of the files the jobs read
    for (const auto& job : plan_.jobs)
      for (const auto& in : job.call.inputs)
        if (in.view.file_mapped) read.insert(in.view.file_fd);
    for_each_input_shard([&](const SafetensorsFile& shard) {
      const MappedFile& file = shard.mapping();
      if (file.fd() < 0 || !read.count(file.fd())) return;
      release_pages(file.data(), file.size());
      drop_from_page_cache(file.fd(), 0, file.size());
    });
  }

  // fn(shard) for each shard file of each input model.
  template <class Fn>
  void for_each_input_shard(Fn fn) const {
    for (const auto& model : plan_.models)
      if (model.checkpoint)
        for (const auto& shard : model.checkpoint->shards()) fn(*shard);
  }

  bool stopping() const { return error_flag_.load() || (opt_.cancel && opt_.cancel->load()); }

  void work() {
    Scratch scratch;
    try {
      while (!stopping()) {
        std::optional<Block> block;
        std::optional<size_t> job, next;
        {
          std::unique_lock lock(mu_);
          if (!blocks_.empty()) {
            block = blocks_.front();
            blocks_.pop_front();
          } else if (next_job_ < plan_.jobs.size()) {
            job = order_[next_job_++];
            if (next_job_ < order_.size()) next = order_[next_job_];
          } else if (preparing_ > 0) {
            cv_.wait(lock);  // a job being prepared may still publish blocks
            continue;
          } else {
            return;
          }
          if (job) ++preparing_;
        }
        if (block) {
          run_block(*block, scratch);
        } else {
          if (next) prefetch(*next);
          start_job(*job, scratch);
        }
      }
    } catch (...) {
      record(std::current_exception());
    }
  }

  // The first failure wins; everyone stops.
  void record(std::exception_ptr e) {
    std::lock_guard lock(mu_);
    if (!error_) error_ = e;
    error_flag_ = true;
    cv_.notify_all();
  }

  // Writes [data, data + size) at `offset` of job j's shard, on the writer thread when there is
  // one (`bytes` owned, or `borrowed` bytes that outlive the run), then counts the bytes and, for
  // the job's last write, finishes the job.
  void write(size_t j, uint64_t offset, std::vector<unsigned char>* bytes, const std::byte* borrowed,
             uint64_t size) {
    const int fd = fds_[layout_.placements[j].shard];
    auto done = [this, j, size] {
      written_ += size;
      if (--pending_[j] == 0) finish_job(j);
      report();
    };
    if (!writer_) {
      write_fully(fd, bytes ? bytes->data() : static_cast<const void*>(borrowed), size, offset, where(j));
      done();
      return;
    }
    WriteQueue::Write w;
    w.fd = fd;
    w.offset = offset;
    if (bytes) {
      w.bytes = std::move(*bytes);
      *bytes = writer_->take_buffer();
    } else {
      w.borrowed = borrowed;
      w.borrowed_size = size;
    }
    w.what = where(j);
    w.done = std::move(done);
    writer_->push(std::move(w));  // false only once the run is failing
  }

  void start_job(size_t j, Scratch& scratch) {
    struct Done {
      Run* run;
      ~Done() {
        std::lock_guard lock(run->mu_);
        --run->preparing_;
        run->cv_.notify_all();
      }
    } done{this};
    const TensorJob& job = plan_.jobs[j];
    const TensorPlacement& place = layout_.placements[j];
    if (!job.method) {  // byte copy
      const auto& v = job.call.inputs[0].view;
      pending_[j] = 1;
      write(j, place.file_offset, nullptr, v.data, v.nbytes);
      return;
    }
    try {
      kernels_[j] = job.method->prepare(job.call);
    } catch (const Error& e) {
      throw;
    } catch (const std::exception& e) {
      fail(job.call.where(), ": ", e.what());
    }
    const int64_t rows = job.call.rows();
    const int64_t cols = job.call.cols();
    if (rows == 0 || cols == 0) {
      finish_job(j);
      return;
    }
    const int64_t rows_per_block = std::max<int64_t>(1, opt_.block_elements / cols);
    const int64_t n_blocks = (rows + rows_per_block - 1) / rows_per_block;
    pending_[j] = n_blocks;
    uncomputed_[j] = n_blocks;
    // Keep the first block for this thread; publish the rest.
    {
      std::lock_guard lock(mu_);
      for (int64_t b = 1; b < n_blocks; ++b)
        blocks_.push_back({j, b * rows_per_block, std::min(rows, (b + 1) * rows_per_block)});
      cv_.notify_all();
    }
    run_block({j, 0, std::min(rows, rows_per_block)}, scratch);
  }

  static constexpr int64_t kReleaseBlocks = 32;

  // Computes the block's rows chunk by chunk (inputs, kernel and output conversion stay in cache)
  // into one byte buffer, then writes it with one call.
  void run_block(const Block& b, Scratch& s) {
    const TensorJob& job = plan_.jobs[b.job];
    const MergeCall& call = job.call;
    const int64_t cols = call.cols();
    const size_t esize = dtype_size(job.out.dtype);
    const int64_t rows_per_chunk = std::max<int64_t>(1, opt_.chunk_elements / cols);
    s.inputs.resize(call.size());
    s.pointers.resize(call.size());
    s.bytes.resize(static_cast<size_t>((b.row_end - b.row_begin) * cols) * esize);
    for (int64_t r = b.row_begin; r < b.row_end; r += rows_per_chunk) {
      const int64_t r_end = std::min(b.row_end, r + rows_per_chunk);
      const size_t n = static_cast<size_t>((r_end - r) * cols);
      for (size_t i = 0; i < call.size(); ++i) {
        s.inputs[i].resize(n);
        call.read_rows(i, r, r_end, s.inputs[i].data());
        s.pointers[i] = s.inputs[i].data();
      }
      s.out.resize(n);
      RowBlock block{r, r_end, cols, s.pointers};
      kernels_[b.job]->map(block, s.out.data());
      from_f32(s.out.data(), job.out.dtype, s.bytes.data() + static_cast<size_t>((r - b.row_begin) * cols) * esize, n);
    }
    // Every kReleaseBlocks blocks, release the input pages of the kReleaseBlocks blocks before the
    // previous ones (done by now, or nearly: releasing pages still read only costs a minor fault).
    // Releasing costs a TLB shootdown on every core, so not per block.
    const int64_t rows_per_block = std::max<int64_t>(1, opt_.block_elements / cols);
    const int64_t index = b.row_begin / rows_per_block;
    if (index % kReleaseBlocks == 0 && index >= 2 * kReleaseBlocks)
      for (size_t i = 0; i < call.size(); ++i)
        call.release_rows(i, (index - 2 * kReleaseBlocks) * rows_per_block, (index - kReleaseBlocks) * rows_per_block,
                          drops_for(call.inputs[i].view));
    if (--uncomputed_[b.job] == 0) release_inputs(b.job);
    const uint64_t size = s.bytes.size();
    write(b.job, layout_.placements[b.job].file_offset + static_cast<uint64_t>(b.row_begin * cols) * esize, &s.bytes,
          nullptr, size);
  }

  // Lets job j's input pages leave this process's resident set (and the page cache, with
  // drop_input_pages). Done once its last block is computed, not once written: the compute
  // threads run ahead of the writer through the small tensors a merge ends with, each mapping a
  // 2 MB folio per input.
  void release_inputs(size_t j) const {
    const MergeCall& call = plan_.jobs[j].call;
    for (size_t i = 0; i < call.size(); ++i) {
      DeferredDrops* drops = drops_for(call.inputs[i].view);
      // The rows run_block queued already are not queued again: a whole tensor queued at its end
      // would count as lag and drop at once the rows of other tensors read moments before.
      const int64_t from = drops && plan_.jobs[j].method ? queued_rows(call) : 0;
      call.release_rows(i, 0, from);
      call.release_rows(i, from, call.inputs[i].view.rows(), drops);
    }
  }

  // Where input v's pages go once read for the last time: nullptr (they stay cached) without
  // drop_input_pages, and for inputs of several jobs, dropped only at the end.
  DeferredDrops* drops_for(const TensorView& v) const {
    return drops_ && !shared_views_.count(v.data) ? drops_.get() : nullptr;
  }

  // The rows of a tensor whose drops run_block queued: [0, (m - kReleaseBlocks) * rows_per_block)
  // for the last multiple m of kReleaseBlocks among its block indices, when m >= 2 * kReleaseBlocks.
  int64_t queued_rows(const MergeCall& call) const {
    const int64_t cols = call.cols(), rows = call.rows();
    if (cols == 0 || rows == 0) return 0;
    const int64_t rows_per_block = std::max<int64_t>(1, opt_.block_elements / cols);
    const int64_t last = (rows + rows_per_block - 1) / rows_per_block - 1;
    const int64_t m = last / kReleaseBlocks * kReleaseBlocks;
    return m >= 2 * kReleaseBlocks ? (m - kReleaseBlocks) * rows_per_block : 0;
  }

  // A tensor is written: free its prepared state, release the input pages of a byte copy (read
  // by the writer), and start writing its bytes back to disk.
  void finish_job(size_t j) {
    kernels_[j].reset();
    if (!plan_.jobs[j].method) release_inputs(j);
    if (opt_.early_write_back && !writer_) {  // the writer hands 8 MB ranges over as it goes
      const TensorPlacement& place = layout_.placements[j];
      ::sync_file_range(fds_[place.shard], static_cast<off_t>(place.file_offset),
                        static_cast<off_t>(place.nbytes), SYNC_FILE_RANGE_WRITE);
    }
  }

  // Starts reading job j's inputs from disk (a no-op for pages already cached).
  void prefetch(size_t j) const {
    for (const auto& in : plan_.jobs[j].call.inputs)
      if (in.view.file_mapped) prefetch_pages(in.view.data, in.view.nbytes, in.view.file_fd);
  }

  std::string where(size_t j) const {
    return "output " + layout_.shards[layout_.placements[j].shard].file_name + ", tensor '" +
           plan_.jobs[j].out.name + "'";
  }

  void report() {
    if (opt_.progress) opt_.progress(written_.load(), layout_.total_tensor_bytes);
  }

  const MergePlan& plan_;
  const OutputLayout& layout_;
  const std::vector<int>& fds_;
  const ExecOptions& opt_;
  std::vector<std::unique_ptr<MergeKernel>> kernels_;
  std::vector<std::atomic<int64_t>> pending_;     // writes not yet made, per job
  std::vector<std::atomic<int64_t>> uncomputed_;  // blocks not yet computed, per job
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Block> blocks_;
  std::vector<size_t> order_;  // jobs in the order they are started
  size_t next_job_ = 0;
  int preparing_ = 0;
  std::exception_ptr error_;
  std::atomic<bool> error_flag_{false};
  std::atomic<uint64_t> written_{0};
  static constexpr uint64_t kWriteQueueBytes = uint64_t{8} << 20;  // output queued at most
  // With drop_input_pages: the input ranges read for the last time, dropped from the page cache
  // drop_lag_per_input bytes per input behind the reads.
  std::unique_ptr<DeferredDrops> drops_;
  std::set<const std::byte*> shared_views_;  // with drops_: inputs of more than one job
  std::unique_ptr<WriteQueue> writer_;  // last member: its thread stops before the rest goes
};

}  // namespace

ExecStats execute(const MergePlan& plan, const OutputLayout& layout, const std::vector<int>& shard_fds,
                  const ExecOptions& options) {
  return Run(plan, layout, shard_fds, options).go();
}

}  // namespace alloy
